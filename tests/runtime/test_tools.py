"""Tool registry and execution: typed failures with recovery hints, bounds, shadowing, concurrency."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from agent.models.scripted import FunctionModel, Script, ScriptedModel
from agent.models.types import Message, ModelRequest, ModelResponse, ToolUsePart
from agent.tools.execution import MAX_RESULT_CHARS
from control_bridge import contract as c
from tests.runtime.harness import FnTool, assert_one_terminal_last


def one_call_then_done(name: str, arguments: dict[str, Any] | None = None) -> ScriptedModel:
    return ScriptedModel(
        Script.model_validate(
            {
                "turns": [
                    {"tool_calls": [{"name": name, "arguments": arguments or {}}]},
                    {"text": "done: {{last_tool_result}}"},
                ]
            }
        )
    )


async def garbage(a: dict[str, Any], ctx: Any) -> Any:
    return {"not": object()}


async def raises(a: dict[str, Any], ctx: Any) -> Any:
    raise KeyError("secret-internal-detail")


async def hangs(a: dict[str, Any], ctx: Any) -> Any:
    await asyncio.sleep(3600)


async def huge(a: dict[str, Any], ctx: Any) -> Any:
    return "x" * (10 * 1024 * 1024)


class Rejects(Exception):
    kind = "domain_rejection"
    hint = "replan"

    def __init__(self) -> None:
        super().__init__("no such account")
        self.message = "no such account"


async def rejects(a: dict[str, Any], ctx: Any) -> Any:
    raise Rejects()


async def run_one(harness_factory, tool: FnTool, name: str | None = None) -> tuple[dict[str, Any], Any]:
    h = harness_factory(one_call_then_done(name or tool.spec.name), [tool])
    state = await h.run()
    assert state.status == "completed"
    events = h.events(state.run_id)
    assert_one_terminal_last(events)
    return next(e.data for e in events if e.type == "tool.result"), state


async def test_garbage_result_is_malformed_result(harness_factory) -> None:
    result, _ = await run_one(harness_factory, FnTool("g", garbage))
    assert result["error"]["kind"] == "malformed_result" and result["error"]["hint"] == "replan"


async def test_raising_tool_is_internal_without_leaking_text(harness_factory) -> None:
    result, _ = await run_one(harness_factory, FnTool("r", raises))
    assert result["error"]["kind"] == "internal"
    assert "secret-internal-detail" not in result["output"]


async def test_hanging_tool_times_out(harness_factory) -> None:
    result, _ = await run_one(harness_factory, FnTool("h", hangs, timeout_s=0.2))
    assert result["error"]["kind"] == "timeout"


async def test_ten_megabyte_result_is_truncated_with_a_marker(harness_factory) -> None:
    result, state = await run_one(harness_factory, FnTool("big", huge))
    assert result["ok"] is True
    assert len(result["output"]) < MAX_RESULT_CHARS + 200
    assert "truncated" in result["output"]
    tool_message = state.transcript[2]
    assert len(tool_message.parts[0].content) < MAX_RESULT_CHARS + 200


async def test_unknown_tool_names_the_available_ones(harness_factory) -> None:
    result, _ = await run_one(harness_factory, FnTool("real", garbage), name="imaginary")
    assert result["error"]["kind"] == "unknown_tool"
    assert "real" in result["error"]["message"]


async def test_typed_exception_from_a_package_tool_keeps_its_kind_and_replan_drops_the_tool(
    harness_factory,
) -> None:
    tool = FnTool("account", rejects)
    model = ScriptedModel(
        Script.model_validate(
            {"turns": [{"tool_calls": [{"name": "account", "arguments": {}}]}, {"text": "ok"}]}
        )
    )
    h = harness_factory(model, [tool, FnTool("other", garbage)])
    state = await h.run()
    result = next(e.data for e in h.events(state.run_id) if e.type == "tool.result")
    assert result["error"] == {"kind": "domain_rejection", "message": "no such account", "hint": "replan"}
    first, second = [{t.name for t in call.tools} for call in model.calls]
    assert {"account", "other"} <= first
    assert second == first - {"account"}, "replan removes the tool for the next turn"


async def test_local_tool_shadows_remote_one(harness_factory) -> None:
    async def local_calc(a: dict[str, Any], ctx: Any) -> Any:
        return {"local": True}

    tool = FnTool(
        "calculator",
        local_calc,
        parameters={"type": "object", "properties": {"expression": {"type": "string"}}},
    )
    h = harness_factory(one_call_then_done("calculator", {"expression": "1+1"}), [tool])
    state = await h.run()
    events = h.events(state.run_id)
    shadowed = [e.data for e in events if e.type == "tool.shadowed"]
    assert shadowed == [{"toolName": "calculator", "winner": "local"}]
    assert tool.calls == [{"expression": "1+1"}]
    assert await h.control.tool_execution_count("calculator") == 0


async def test_remote_tool_runs_through_the_control_plane_with_explicit_metadata(harness_factory) -> None:
    h = harness_factory(one_call_then_done("counter", {"name": "n"}))
    state = await h.run()
    result = next(e.data for e in h.events(state.run_id) if e.type == "tool.result")
    assert result["ok"] is True
    assert await h.control.tool_execution_count("counter") == 1


async def test_side_effect_free_tools_run_concurrently_others_in_order(harness_factory) -> None:
    started: list[str] = []
    both = asyncio.Event()

    async def pure(a: dict[str, Any], ctx: Any) -> Any:
        started.append(ctx.tool_call_id)
        if len(started) == 2:
            both.set()
        await asyncio.wait_for(both.wait(), 2)  # deadlocks (times out) if run one after the other
        return "ok"

    order: list[str] = []

    async def effect(a: dict[str, Any], ctx: Any) -> Any:
        order.append(a["n"])
        return "done"

    model = ScriptedModel(
        Script.model_validate(
            {
                "turns": [
                    {
                        "tool_calls": [
                            {"name": "effect", "arguments": {"n": "1"}},
                            {"name": "pure", "arguments": {}},
                            {"name": "effect", "arguments": {"n": "2"}},
                            {"name": "pure", "arguments": {}},
                        ]
                    },
                    {"text": "ok"},
                ]
            }
        )
    )
    h = harness_factory(model, [FnTool("pure", pure, side_effects=False), FnTool("effect", effect)])
    state = await h.run()
    results = [e.data for e in h.events(state.run_id) if e.type == "tool.result"]
    assert all(r["ok"] for r in results), results
    assert order == ["1", "2"]
    tool_message = state.transcript[2]
    assert [p.tool_use_id for p in tool_message.parts] == ["call_0_0", "call_0_1", "call_0_2", "call_0_3"]


async def test_non_json_arguments_are_an_invalid_call(harness_factory) -> None:
    async def fn(request: ModelRequest) -> ModelResponse:
        if sum(m.role == "assistant" for m in request.messages) == 0:
            part = ToolUsePart(id="bad", name="echo", raw_arguments="{not json")
            return ModelResponse(message=Message(role="assistant", parts=[part]), stop_reason="tool_use")
        return ModelResponse(
            message=Message.text(
                "assistant", json.loads(request.messages[-1].parts[0].content)["error"]["kind"]
            )
        )

    tool = FnTool("echo", garbage)
    h = harness_factory(FunctionModel(fn), [tool])
    state = await h.run()
    assert state.output == "invalid_call" and tool.calls == []


async def test_blocked_tools_are_not_offered(harness_factory) -> None:
    model = one_call_then_done("secret")
    h = harness_factory(model, [FnTool("secret", garbage, tags=("danger",)), FnTool("fine", garbage)])
    state = await h.run(config=c.RunConfigResult(policy=c.PolicyConfig(tool_block=["tag:danger"])))
    assert "secret" not in [t.name for t in model.calls[0].tools]
    result = next(e.data for e in h.events(state.run_id) if e.type == "tool.result")
    assert result["error"]["kind"] == "unknown_tool"
