"""When a model step commits: with its harmless tool batch (one transaction), or first (side effects, slow tools)."""

from __future__ import annotations

import asyncio
from typing import Any

from agent.events.types import Event
from agent.models.scripted import Script, ScriptedModel
from agent.runtime import loop
from tests.runtime.harness import FnTool, Harness, assert_one_terminal_last


def two_calls_then_done(name: str) -> ScriptedModel:
    calls = [{"name": name, "arguments": {"n": i}} for i in range(2)]
    return ScriptedModel(Script.model_validate({"turns": [{"tool_calls": calls}, {"text": "done"}]}))


def record_commits(h: Harness) -> list[list[str]]:
    """The event types of each commit, in order (the run log publishes once per commit)."""
    commits: list[list[str]] = []

    async def publisher(events: list[Event]) -> None:
        commits.append([e.type for e in events])

    h.log.add_publisher(publisher)
    return commits


def commit_of(commits: list[list[str]], type_: str) -> int:
    return next(i for i, types in enumerate(commits) if type_ in types)


async def test_harmless_batch_commits_with_the_step_that_planned_it(harness_factory: Any) -> None:
    async def pure(a: dict[str, Any], ctx: Any) -> Any:
        return {"n": a["n"]}

    h = harness_factory(two_calls_then_done("pure"), [FnTool("pure", pure, side_effects=False)])
    commits = record_commits(h)
    state = await h.run()

    assert state.status == "completed" and state.output == "done"
    assert commit_of(commits, "assistant.message") == commit_of(commits, "tool.result")
    assert_one_terminal_last(h.events(state.run_id))
    # The checkpoint covers the merged step: the transcript has the plan and both results.
    saved = h.checkpoints.load(state.run_id)
    assert saved is not None and [m.role for m in saved.transcript] == [
        "user",
        "assistant",
        "tool",
        "assistant",
    ]


async def test_side_effects_run_only_after_the_plan_is_durable(harness_factory: Any) -> None:
    seen: list[list[str]] = []

    async def effect(a: dict[str, Any], ctx: Any) -> Any:
        seen.append([e.type for e in h.log.read(ctx.run_id, limit=1000)])
        return "ok"

    h = harness_factory(two_calls_then_done("effect"), [FnTool("effect", effect, side_effects=True)])
    state = await h.run()

    assert state.status == "completed"
    assert len(seen) == 2 and "assistant.message" in seen[0] and "tool.scheduled" in seen[0]


async def test_a_slow_harmless_batch_shows_its_plan_while_it_runs(harness_factory: Any) -> None:
    seen: list[list[str]] = []

    async def slow(a: dict[str, Any], ctx: Any) -> Any:
        await asyncio.sleep(loop.PLAN_VISIBLE_S * 4)
        seen.append([e.type for e in h.log.read(ctx.run_id, limit=1000)])
        return "ok"

    h = harness_factory(two_calls_then_done("slow"), [FnTool("slow", slow, side_effects=False)])
    commits = record_commits(h)
    state = await h.run()

    assert state.status == "completed"
    assert "tool.scheduled" in seen[0] and "tool.result" not in seen[0]
    assert commit_of(commits, "assistant.message") < commit_of(commits, "tool.result")
    assert_one_terminal_last(h.events(state.run_id))
