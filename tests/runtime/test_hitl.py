"""People in the loop: confirmation, clarification, pause/resume, cancel, lease loss."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from pydantic import ValidationError

from agent.models.scripted import Script, ScriptedModel
from agent.runtime.policy import PolicyOverride
from agent.runtime.requests import ContinueRequest, RunError
from agent.tools.builtin import AskUserTool
from agent.tools.registry import RemoteToolAdapter
from control_bridge import contract as c
from tests.runtime.harness import FnTool, assert_one_terminal_last


def scripted(*turns: dict[str, Any]) -> ScriptedModel:
    return ScriptedModel(Script.model_validate({"turns": list(turns)}))


async def ok(a: dict[str, Any], ctx: Any) -> Any:
    return {"done": a}


def deploy_tool() -> FnTool:
    return FnTool(
        "deploy",
        ok,
        requires_confirmation=True,
        parameters={"type": "object", "properties": {"env": {"type": "string"}}},
    )


TWO_CALLS = {
    "tool_calls": [{"name": "deploy", "arguments": {"env": "prod"}}, {"name": "lookup", "arguments": {}}]
}


async def suspended(h, text: str = "ship it") -> tuple[str, Any]:  # type: ignore[no-untyped-def]
    run_id = await h.start(text)
    state = await h.wait(run_id)
    assert state.status == "suspended" and state.phase == "awaiting"
    return run_id, state


async def test_confirmation_approved_runs_the_tool_after_the_others(harness_factory) -> None:
    deploy, lookup = deploy_tool(), FnTool("lookup", ok)
    h = harness_factory(scripted(TWO_CALLS, {"text": "shipped: {{last_tool_result}}"}), [deploy, lookup])
    run_id, state = await suspended(h)
    assert lookup.calls == [{}] and deploy.calls == [], "tools needing no confirmation run first"
    ask = next(e for e in h.events(run_id) if e.type == "await.confirmation").data
    assert ask["toolName"] == "deploy" and ask["toolCallId"] == "call_0_0"
    assert ask["title"] == "Allow deploy?" and '"env": "prod"' in ask["prompt"]
    assert ask["payload"] == {"arguments": {"env": "prod"}}
    await h.manager.continue_(
        ContinueRequest(
            run_id=run_id, await_id=ask["awaitId"], decision={"approved": True, "requestedBy": "alice"}
        )
    )
    state = await h.wait(run_id)
    assert state.status == "completed" and deploy.calls == [{"env": "prod"}]
    events = h.events(run_id)
    auth = [e.data for e in events if e.type == "tool.authorization"]
    assert len(auth) == 1 and auth[0]["approved"] is True and auth[0]["requestedBy"] == "alice"
    assert_one_terminal_last(events)
    with pytest.raises(RunError) as again:
        await h.manager.continue_(
            ContinueRequest(
                run_id=run_id, await_id=ask["awaitId"], decision={"approved": False, "requestedBy": "bob"}
            )
        )
    assert again.value.code == "conflict"


async def test_confirmation_denied_gives_the_model_a_valid_non_error_result(harness_factory) -> None:
    deploy = deploy_tool()
    h = harness_factory(
        scripted(
            {"tool_calls": [{"name": "deploy", "arguments": {"env": "prod"}}]},
            {"text": "ok: {{last_tool_result}}"},
        ),
        [deploy],
    )
    run_id, state = await suspended(h)
    await_id = state.pending[0].await_id
    await h.manager.continue_(
        ContinueRequest(
            run_id=run_id,
            await_id=await_id,
            decision={"approved": False, "requestedBy": "alice", "reason": "not on Friday"},
        )
    )
    state = await h.wait(run_id)
    assert state.status == "completed" and deploy.calls == []
    result = state.transcript[2].parts[0]
    assert result.is_error is False
    body = json.loads(result.content)
    assert body["status"] == "denied" and body["reason"] == "not on Friday" and body["tool"] == "deploy"


@pytest.mark.parametrize(
    ("await_id", "decision", "error"),
    [
        ("await-nope", {"approved": True, "requestedBy": "a"}, RunError),
        (None, {"approved": True, "requestedBy": ""}, ValidationError),
        (None, {"answer": "blue"}, ValidationError),
        (None, {"approved": "maybe", "requestedBy": "a"}, ValidationError),
    ],
)
async def test_bad_continuations_are_rejected_and_change_nothing(
    harness_factory, await_id, decision, error
) -> None:
    deploy = deploy_tool()
    h = harness_factory(
        scripted({"tool_calls": [{"name": "deploy", "arguments": {}}]}, {"text": "x"}), [deploy]
    )
    run_id, state = await suspended(h)
    before = len(h.events(run_id))
    with pytest.raises(error):
        await h.manager.continue_(
            ContinueRequest(run_id=run_id, await_id=await_id or state.pending[0].await_id, decision=decision)
        )
    assert h.manager.runs[run_id].state.status == "suspended"
    assert len(h.events(run_id)) == before and deploy.calls == []


async def test_catalog_flags_and_policy_decide_confirmation(harness_factory) -> None:
    high = RemoteToolAdapter(c.RemoteTool(name="wipe", risk_level="high"), control=None)  # type: ignore[arg-type]
    flagged = RemoteToolAdapter(c.RemoteTool(name="pay", requires_confirmation=True), control=None)  # type: ignore[arg-type]
    plain = RemoteToolAdapter(c.RemoteTool(name="read"), control=None)  # type: ignore[arg-type]
    assert high.spec.requires_confirmation and flagged.spec.requires_confirmation
    assert not plain.spec.requires_confirmation

    lookup = FnTool("lookup", ok)
    h = harness_factory(
        scripted({"tool_calls": [{"name": "lookup", "arguments": {}}]}, {"text": "x"}), [lookup]
    )
    h.manager.override = PolicyOverride(require_confirmation=["lookup"])
    run_id, _ = await suspended(h)
    assert lookup.calls == []
    h.manager.override = PolicyOverride(remove_confirmation=["lookup"])
    state = await h.run("again")
    assert state.status == "completed" and lookup.calls == [{}]


async def test_clarification_round_trip(harness_factory) -> None:
    h = harness_factory(
        scripted(
            {"tool_calls": [{"name": "ask_user", "arguments": {"question": "Which colour?"}}]},
            {"text": "You chose {{last_tool_result}}"},
        ),
        [AskUserTool()],
    )
    run_id, state = await suspended(h)
    ask = next(e for e in h.events(run_id) if e.type == "await.clarification").data
    assert ask["prompt"] == "Which colour?"
    with pytest.raises(ValidationError):
        await h.manager.continue_(
            ContinueRequest(
                run_id=run_id, await_id=ask["awaitId"], decision={"approved": True, "requestedBy": "a"}
            )
        )
    await h.manager.continue_(
        ContinueRequest(run_id=run_id, await_id=ask["awaitId"], decision={"answer": "blue"})
    )
    state = await h.wait(run_id)
    assert state.status == "completed" and state.output == "You chose blue"


async def test_pause_then_resume(harness_factory) -> None:
    turns = [{"tool_calls": [{"name": "lookup", "arguments": {}}], "delay_ms": 150} for _ in range(3)]
    lookup = FnTool("lookup", ok)
    h = harness_factory(scripted(*turns, {"text": "finished"}), [lookup])
    run_id = await h.start()
    await asyncio.sleep(0.05)
    await h.manager.pause(run_id)
    handle = h.manager.runs[run_id]
    async with asyncio.timeout(5):
        while handle.state is None or handle.state.status != "paused":
            await asyncio.sleep(0.02)
    calls_when_paused = len(lookup.calls)
    await asyncio.sleep(0.4)
    assert len(lookup.calls) == calls_when_paused, "a paused run takes no steps"
    assert "run.paused" in h.types(run_id)
    await h.manager.resume(run_id)
    state = await h.wait(run_id)
    assert state.status == "completed" and len(lookup.calls) == 3
    assert h.types(run_id).count("run.resumed") == 1


async def test_cancel_interrupts_a_slow_model_call(harness_factory) -> None:
    h = harness_factory(scripted({"text": "never", "delay_ms": 30_000}))
    run_id = await h.start()
    await asyncio.sleep(0.1)
    began = time.monotonic()
    await h.manager.cancel(run_id, "user_requested")
    state = await h.wait(run_id)
    assert time.monotonic() - began < 3
    assert state.status == "canceled" and state.reason == "user_requested"
    events = h.events(run_id)
    assert_one_terminal_last(events)
    assert events[-1].data["reason"] == "user_requested"
    record = await h.control.get_run(run_id)
    assert record.status == "canceled"


async def test_cancel_a_suspended_run(harness_factory) -> None:
    h = harness_factory(
        scripted({"tool_calls": [{"name": "deploy", "arguments": {}}]}, {"text": "x"}), [deploy_tool()]
    )
    run_id, _ = await suspended(h)
    await h.manager.cancel(run_id, "user_requested")
    state = await h.wait(run_id)
    assert state.status == "canceled"
    assert_one_terminal_last(h.events(run_id))


async def test_lease_loss_stops_the_run_with_no_further_tool_calls(harness_factory) -> None:
    turns = [
        {"tool_calls": [{"name": "counter", "arguments": {"name": "lease"}}], "delay_ms": 150}
        for _ in range(40)
    ]
    h = harness_factory(scripted(*turns, {"text": "never"}))
    run_id = await h.start()
    await asyncio.sleep(0.5)
    await h.control.bump_lease(run_id)
    count_at_loss = await h.control.tool_execution_count("counter")
    state = await h.wait(run_id)
    assert state.status == "canceled" and state.reason == "lease_lost"
    assert await h.control.tool_execution_count("counter") <= count_at_loss + 1
    assert_one_terminal_last(h.events(run_id))


async def test_is_cancelled_flag_from_the_control_plane_stops_the_run(harness_factory) -> None:
    turns = [{"tool_calls": [{"name": "lookup", "arguments": {}}], "delay_ms": 100} for _ in range(50)]
    h = harness_factory(scripted(*turns, {"text": "never"}), [FnTool("lookup", ok)])
    run_id = await h.start()
    await asyncio.sleep(0.2)
    await h.control.request_cancel(run_id, "user_requested")
    state = await h.wait(run_id)
    assert state.status == "canceled"


async def test_resume_from_the_control_planes_checkpoint_continues_the_numbering(harness_factory) -> None:
    """A container with no local log resumes from run.checkpoint.load: no sequence number is reused."""
    deploy = deploy_tool()
    first = harness_factory(
        scripted({"tool_calls": [{"name": "deploy", "arguments": {}}]}, {"text": "ok"}), [deploy]
    )
    run_id, state = await suspended(first)
    last = first.log.last_sequence(run_id)
    lease = await first.control.bump_lease(run_id)
    await first.control.run_checkpoint_save(
        c.RunCheckpointSaveParams(
            run_id=run_id,
            lease_version=lease,
            version=state.checkpoint_version,
            state=state.model_dump(mode="json"),
        )
    )
    second = harness_factory(first.model, [deploy])
    second.manager.control = first.control  # the same platform, a different container (empty local log)
    from agent.runtime.requests import StartRequest

    await second.manager.start(StartRequest(run_id=run_id, lease_version=lease))
    resumed = await second.wait(run_id)
    assert resumed.status == "suspended" and resumed.pending[0].await_id == state.pending[0].await_id
    new_events = second.events(run_id)
    assert new_events and new_events[0].sequence == last + 1
