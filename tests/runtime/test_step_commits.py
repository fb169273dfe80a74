"""When steps commit: grouped while the run does only repeatable work, at once before what cannot be repeated."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

from agent.events.payloads import RunPaused
from agent.events.types import Event
from agent.models.scripted import Script, ScriptedModel
from agent.runtime import commits as loop
from agent.runtime.checkpoints import CheckpointStore
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
        await asyncio.sleep(loop.COMMIT_LATENCY_S * 4)
        seen.append([e.type for e in h.log.read(ctx.run_id, limit=1000)])
        return "ok"

    h = harness_factory(two_calls_then_done("slow"), [FnTool("slow", slow, side_effects=False)])
    commits = record_commits(h)
    state = await h.run()

    assert state.status == "completed"
    assert "tool.scheduled" in seen[0] and "tool.result" not in seen[0]
    assert commit_of(commits, "assistant.message") < commit_of(commits, "tool.result")
    assert_one_terminal_last(h.events(state.run_id))


async def test_a_slow_model_call_does_not_hold_back_what_came_before(harness_factory: Any) -> None:
    delay_ms = int(loop.COMMIT_LATENCY_S * 1000 * 8)
    model = ScriptedModel(Script.model_validate({"turns": [{"text": "late", "delay_ms": delay_ms}]}))
    h = harness_factory(model)
    run_id = await h.start()
    await asyncio.sleep(loop.COMMIT_LATENCY_S * 4)
    visible = [e.type for e in h.events(run_id)]
    assert "run.started" in visible and "run.completed" not in visible
    state = await h.wait(run_id)
    assert state.status == "completed" and state.output == "late"
    assert_one_terminal_last(h.events(run_id))


async def test_one_runs_commit_never_carries_another_runs_events(harness_factory: Any) -> None:
    h = harness_factory(ScriptedModel(Script.model_validate({"turns": [{"text": "ok"}]})))
    h.log.append("someone-else", RunPaused(phase="planning"))
    state = await h.run()
    assert state.status == "completed"
    assert h.events("someone-else") == [] and h.log.has_pending("someone-else")


async def test_a_failed_background_commit_is_retried_and_loses_nothing(harness_factory: Any) -> None:
    slow_ms = int(loop.COMMIT_LATENCY_S * 1000 * 6)
    script = {
        "turns": [{"tool_calls": [{"name": "pure", "arguments": {}}]}, {"text": "slow", "delay_ms": slow_ms}]
    }
    armed: list[bool] = []

    async def pure(a: dict[str, Any], ctx: Any) -> Any:
        armed.append(True)  # from here on, commits carry a checkpoint with new transcript messages
        return "ok"

    h = harness_factory(
        ScriptedModel(Script.model_validate(script)), [FnTool("pure", pure, side_effects=False)]
    )
    real_commit = h.db.commit
    failures: list[str] = []

    def flaky_commit() -> None:
        if armed and not failures:  # the timer's commit during the slow model call
            failures.append("disk I/O error")
            raise sqlite3.OperationalError("disk I/O error")
        real_commit()

    h.db.commit = flaky_commit  # type: ignore[method-assign]
    state = await h.run()

    assert failures and state.status == "completed" and state.output == "slow"
    events = h.events(state.run_id)
    assert [e.type for e in events][:3] == ["run.started", "policy.decision", "phase.changed"]
    assert sum(e.type == "tool.result" for e in events) == 1  # rolled back, then committed once
    assert_one_terminal_last(events)
    saved = CheckpointStore(h.db).load(state.run_id)  # (a fresh store: nothing cached)
    assert saved is not None and saved.status == "completed"
    assert [m.role for m in saved.transcript] == [m.role for m in state.transcript]
    assert [m.role for m in saved.transcript] == ["user", "assistant", "tool", "assistant"]
