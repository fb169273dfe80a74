"""Edges found in review: cancel during setup, restarts, capacity on continue, durable pause, graceful stop."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from agent.models.scripted import Script, ScriptedModel
from agent.runtime.bootstrap import RunExtras
from agent.runtime.requests import ContinueRequest, RunError, StartRequest
from tests.runtime.harness import FnTool, assert_one_terminal_last


def scripted(*turns: dict[str, Any]) -> ScriptedModel:
    return ScriptedModel(Script.model_validate({"turns": list(turns)}))


async def ok(a: dict[str, Any], ctx: Any) -> Any:
    return "ok"


async def test_cancel_while_the_run_is_being_set_up(harness_factory) -> None:
    model = scripted({"text": "should never be asked"})
    h = harness_factory(model)

    async def slow_context(state: Any, control: Any, remote: Any, children: Any) -> RunExtras:
        await asyncio.sleep(0.3)
        return RunExtras()

    h.manager.builder.run_context = slow_context
    run_id = await h.start()
    await asyncio.sleep(0.05)
    await h.manager.cancel(run_id, "user_requested")
    state = await h.wait(run_id)
    assert state.status == "canceled" and model.calls == []
    assert_one_terminal_last(h.events(run_id))


async def test_a_reader_after_restart_does_not_block_the_resume(harness_factory) -> None:
    turns = [{"tool_calls": [{"name": "lookup", "arguments": {}}], "delay_ms": 100} for _ in range(4)]
    h = harness_factory(scripted(*turns, {"text": "done"}), [FnTool("lookup", ok)])
    run_id = await h.start()
    await asyncio.sleep(0.15)
    await h.manager.shutdown(2)  # stops at a boundary, checkpointed, not terminal
    assert not h.manager.runs[run_id].state.terminal
    h.manager.accepting = True
    del h.manager.runs[run_id]  # a new process knows nothing in memory
    h.manager.get(run_id)  # e.g. an SSE reconnect arrives first
    result = await h.manager.start(StartRequest(run_id=run_id))
    assert result.duplicate is True
    state = await h.wait(run_id)
    assert state.status == "completed"
    assert_one_terminal_last(h.events(run_id))


async def test_continue_at_capacity_records_nothing(harness_factory) -> None:
    deploy = FnTool("deploy", ok, requires_confirmation=True)
    h = harness_factory(
        scripted({"tool_calls": [{"name": "deploy", "arguments": {}}]}, {"text": "x", "delay_ms": 800}),
        [deploy],
        max_runs=1,
    )
    first = await h.start("a")
    state = await h.wait(first)
    assert state.status == "suspended"
    busy = await h.start("b")  # takes the only slot (its model turn is slow: it suspends too, later)
    with pytest.raises(RunError) as err:
        await h.manager.continue_(
            ContinueRequest(
                run_id=first,
                await_id=state.pending[0].await_id,
                decision={"approved": True, "requestedBy": "a"},
            )
        )
    assert err.value.code == "capacity"
    assert h.manager.runs[first].state.pending, "the answer was not recorded: it can be given again"
    await h.wait(busy)
    await h.manager.continue_(
        ContinueRequest(
            run_id=first, await_id=state.pending[0].await_id, decision={"approved": True, "requestedBy": "a"}
        )
    )
    assert (await h.wait(first)).status == "completed" and deploy.calls == [{}]


async def test_pause_is_durable_across_a_restart(harness_factory) -> None:
    turns = [{"tool_calls": [{"name": "lookup", "arguments": {}}], "delay_ms": 100} for _ in range(3)]
    lookup = FnTool("lookup", ok)
    h = harness_factory(scripted(*turns, {"text": "done"}), [lookup])
    run_id = await h.start()
    await asyncio.sleep(0.05)
    await h.manager.pause(run_id)
    async with asyncio.timeout(5):
        while h.manager.runs[run_id].state is None or h.manager.runs[run_id].state.status != "paused":
            await asyncio.sleep(0.02)
    await h.manager.shutdown(2)
    h.manager.accepting = True
    del h.manager.runs[run_id]
    calls = len(lookup.calls)
    await h.manager.start(StartRequest(run_id=run_id))
    await asyncio.sleep(0.4)
    assert h.manager.runs[run_id].state.status == "paused" and len(lookup.calls) == calls
    await h.manager.resume(run_id)
    assert (await h.wait(run_id)).status == "completed"


async def test_shutdown_lets_a_running_side_effect_finish(harness_factory) -> None:
    async def slow_effect(a: dict[str, Any], ctx: Any) -> Any:
        await asyncio.sleep(0.3)
        return "effect done"

    effect = FnTool("effect", slow_effect)
    h = harness_factory(
        scripted({"tool_calls": [{"name": "effect", "arguments": {}}]}, {"text": "never"}), [effect]
    )
    run_id = await h.start()
    await asyncio.sleep(0.1)
    await h.manager.shutdown(5)
    state = h.manager.runs[run_id].state
    assert effect.calls == [{}] and not state.terminal
    result = next(e for e in h.events(run_id) if e.type == "tool.result")
    assert result.data["ok"] is True, "the side effect finished and its result is durable"
