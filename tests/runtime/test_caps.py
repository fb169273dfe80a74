"""Caps and deadlines never crash a run: they start a finalization turn, and the run completes."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from agent.models.scripted import FunctionModel, Script, ScriptedModel
from agent.models.types import Message, ModelRequest, ModelResponse, TextPart, ToolResultPart, ToolUsePart
from agent.runtime.policy import PolicyOverride, RunPolicy
from control_bridge import contract as c
from tests.runtime.harness import FnTool, assert_one_terminal_last


async def ok(arguments: dict[str, Any], ctx: Any) -> Any:
    return {"ok": True, "args": arguments}


async def broken(arguments: dict[str, Any], ctx: Any) -> Any:
    raise RuntimeError("boom")


def script(*turns: dict[str, Any]) -> ScriptedModel:
    return ScriptedModel(Script.model_validate({"turns": list(turns)}))


def calls(*names: str) -> dict[str, Any]:
    return {"tool_calls": [{"name": n, "arguments": {}} for n in names]}


async def test_tool_cap_refuses_the_whole_batch_then_finalizes(harness_factory) -> None:
    tool = FnTool("echo", ok)
    model = script(calls("echo", "echo"), calls("echo", "echo"), {"text": "final answer"})
    h = harness_factory(model, [tool])
    state = await h.run(config=c.RunConfigResult(policy=c.PolicyConfig(max_tool_calls=3)))
    assert state.status == "completed"
    assert state.output == "final answer"
    assert len(tool.calls) == 2, "the second batch (2 > 1 left) must be refused whole"
    events = h.events(state.run_id)
    assert_one_terminal_last(events)
    finalizing = [e for e in events if e.type == "run.finalizing"]
    assert [e.data["reason"] for e in finalizing] == ["tool_cap"]
    refused = [e for e in events if e.type == "tool.result" and e.data.get("refused")]
    assert len(refused) == 2
    last_request = model.calls[-1]
    assert last_request.tools == [] and last_request.tool_choice == "none"
    assert "tool calls this run allows" in last_request.messages[0].text_content
    # The transcript stays valid: every tool_use is answered right after it.
    assert [m.role for m in state.transcript] == [
        "user",
        "assistant",
        "tool",
        "assistant",
        "tool",
        "assistant",
    ]


async def test_exact_cap_boundary_is_admitted(harness_factory) -> None:
    tool = FnTool("echo", ok)
    h = harness_factory(script(calls("echo", "echo"), calls("echo"), {"text": "done"}), [tool])
    state = await h.run(config=c.RunConfigResult(policy=c.PolicyConfig(max_tool_calls=3)))
    assert state.status == "completed" and len(tool.calls) == 3
    assert "run.finalizing" not in h.types(state.run_id)


async def test_failure_streak_is_counted_per_decision_point(harness_factory) -> None:
    bad, good = FnTool("bad", broken), FnTool("good", ok)
    model = script(calls("bad", "bad"), calls("bad", "good"), calls("bad"), calls("bad"), {"text": "gave up"})
    h = harness_factory(model, [bad, good])
    state = await h.run(config=c.RunConfigResult(policy=c.PolicyConfig(max_consecutive_failed_tool_calls=2)))
    assert state.status == "completed" and state.output == "gave up"
    # batch 1 all failed (streak 1), batch 2 had a success (reset), batches 3 and 4 failed (streak 2 → cap).
    assert len(bad.calls) == 5 and len(good.calls) == 1
    reasons = [e.data["reason"] for e in h.events(state.run_id) if e.type == "run.finalizing"]
    assert reasons == ["failure_cap"]


async def test_time_budget_with_a_slow_model(harness_factory) -> None:
    model = script(
        {"tool_calls": [{"name": "echo", "arguments": {}}], "delay_ms": 3000}, {"text": "wrapped up"}
    )
    h = harness_factory(model, [FnTool("echo", ok)])
    began = time.monotonic()
    state = await h.run(
        config=c.RunConfigResult(policy=c.PolicyConfig(time_budget_ms=400, finalizer_grace_ms=2000))
    )
    elapsed = time.monotonic() - began
    assert state.status == "completed" and state.output == "wrapped up"
    assert [e.data["reason"] for e in h.events(state.run_id) if e.type == "run.finalizing"] == ["time_budget"]
    assert elapsed < 0.4 + 2.0 + 1.0, "the run must end within budget + grace"


async def test_time_budget_with_a_slow_tool(harness_factory) -> None:
    async def slow(arguments: dict[str, Any], ctx: Any) -> Any:
        await asyncio.sleep(10)

    h = harness_factory(script(calls("slow"), calls("slow"), {"text": "out of time"}), [FnTool("slow", slow)])
    began = time.monotonic()
    state = await h.run(
        config=c.RunConfigResult(policy=c.PolicyConfig(time_budget_ms=300, finalizer_grace_ms=2000))
    )
    assert time.monotonic() - began < 0.3 + 2.0 + 1.0
    assert state.status == "completed" and state.output == "out of time"
    result = next(e for e in h.events(state.run_id) if e.type == "tool.result")
    assert result.data["error"]["kind"] == "timeout"


async def test_failed_finalization_fails_the_run(harness_factory) -> None:
    model = script(
        {"tool_calls": [{"name": "echo", "arguments": {}}], "delay_ms": 2000},
        {"text": "too slow", "delay_ms": 2000},
    )
    h = harness_factory(model, [FnTool("echo", ok)])
    state = await h.run(
        config=c.RunConfigResult(policy=c.PolicyConfig(time_budget_ms=200, finalizer_grace_ms=200))
    )
    assert state.status == "failed"
    assert state.reason == "finalization_timeout"
    assert_one_terminal_last(h.events(state.run_id))


async def test_wrap_up_reminder_at_80_percent(harness_factory) -> None:
    seen: list[str] = []

    async def fn(request: ModelRequest) -> ModelResponse:
        seen.append(request.messages[0].text_content)
        turn = sum(m.role == "assistant" for m in request.messages)
        if turn < 3:
            await asyncio.sleep(0.3)
            part = ToolUsePart(id=f"t{turn}", name="echo", arguments={})
            return ModelResponse(message=Message(role="assistant", parts=[part]), stop_reason="tool_use")
        return ModelResponse(message=Message.text("assistant", "done"))

    h = harness_factory(FunctionModel(fn), [FnTool("echo", ok)])
    state = await h.run(config=c.RunConfigResult(policy=c.PolicyConfig(time_budget_ms=1000)))
    assert state.status == "completed"
    assert all("remaining of" in s for s in seen)
    assert any("Wrap up now" in s for s in seen)
    assert h.types(state.run_id).count("run.reminder") == 1


async def test_override_tightens_later_runs_only(harness_factory) -> None:
    tool = FnTool("echo", ok)
    h = harness_factory(script({"text": "waiting", "delay_ms": 300}), [tool])
    first = await h.start(config=c.RunConfigResult(policy=c.PolicyConfig(max_tool_calls=10)))
    await asyncio.sleep(0.05)
    h.manager.override = PolicyOverride(max_tool_calls=2, time_budget_ms=999_999_000, labels={"ops": "on"})
    second = await h.start(
        config=c.RunConfigResult(policy=c.PolicyConfig(max_tool_calls=10, time_budget_ms=5000))
    )
    s1, s2 = await h.wait(first), await h.wait(second)
    assert s1.policy.max_tool_calls == 10 and "ops" not in s1.policy.labels
    assert s2.policy.max_tool_calls == 2
    assert s2.policy.time_budget_s == 5.0, "an override may not loosen what the control plane set"
    decision = next(e for e in h.events(second) if e.type == "policy.decision")
    assert decision.data["policy"]["maxToolCalls"] == 2


async def test_labels_in_events_and_run_get(harness_factory) -> None:
    from agent.server.rpc_methods import run_view

    h = harness_factory(script({"text": "hi"}))
    state = await h.run(labels={"team": "search"})
    started = next(e for e in h.events(state.run_id) if e.type == "run.started")
    assert started.data["labels"] == {"team": "search"}

    class Svc:
        log = h.log

    view = run_view(Svc(), h.manager.runs[state.run_id])  # type: ignore[arg-type]
    assert view["labels"] == {"team": "search"} and view["policy"]["labels"] == {"team": "search"}


def test_policy_merge_is_pure_and_only_tightens() -> None:
    from agent.runtime.policy import apply_override, from_config

    base = from_config(RunPolicy(), c.PolicyConfig(max_tool_calls=8, tool_block=["rm"]))
    merged = apply_override(
        base,
        PolicyOverride(
            max_tool_calls=20, tool_block=["curl"], interrupts_allowed=True, tool_allow=["a", "b"]
        ),
    )
    assert merged.max_tool_calls == 8
    assert merged.tool_block == ("rm", "curl")
    assert merged.tool_allow == ("a", "b")
    off = apply_override(
        base.model_copy(update={"interrupts_allowed": False}), PolicyOverride(interrupts_allowed=True)
    )
    assert off.interrupts_allowed is False
    assert base.allows("x") and not base.allows("rm")
    tagged = base.model_copy(update={"tool_allow": ("tag:read",)})
    assert tagged.allows("grep", ["read"]) and not tagged.allows("grep", ["write"])


def _last_tool_result(request: ModelRequest) -> dict[str, Any]:
    part = request.messages[-1].parts[-1]
    assert isinstance(part, ToolResultPart)
    return json.loads(part.content)


async def test_invalid_arguments_get_correct_call_and_the_model_fixes_them(harness_factory) -> None:
    tool = FnTool(
        "add",
        lambda a, ctx: asyncio.sleep(0, a["x"] + a["y"]),
        parameters={
            "type": "object",
            "properties": {"x": {"type": "integer"}, "y": {"type": "integer"}},
            "required": ["x", "y"],
            "additionalProperties": False,
        },
    )
    hints: list[str] = []

    async def fn(request: ModelRequest) -> ModelResponse:
        turn = sum(m.role == "assistant" for m in request.messages)
        if turn == 0:
            args: dict[str, Any] = {"x": "one"}
        elif turn == 1:
            hints.append(_last_tool_result(request)["error"]["hint"])
            args = {"x": 1, "y": 2}
        else:
            return ModelResponse(message=Message(role="assistant", parts=[TextPart(text="sum is 3")]))
        part = ToolUsePart(id=f"c{turn}", name="add", arguments=args)
        return ModelResponse(message=Message(role="assistant", parts=[part]), stop_reason="tool_use")

    h = harness_factory(FunctionModel(fn), [tool])
    state = await h.run()
    assert state.status == "completed" and hints == ["correct_call"]
    assert tool.calls == [{"x": 1, "y": 2}], "the invalid call must never reach the tool"
    results = [e.data for e in h.events(state.run_id) if e.type == "tool.result"]
    assert results[0]["error"]["kind"] == "invalid_call" and results[1]["ok"] is True
