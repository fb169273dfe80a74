from __future__ import annotations

from typing import Any

from agent.models.scripted import FunctionModel
from agent.models.types import Message, ModelRequest, ModelResponse, ToolUsePart
from agent.runtime.state import RunState
from agent.tools.agent_tool import AgentTool, AgentToolConfig
from tests.runtime.harness import Harness, assert_one_terminal_last


async def model_fn(request: ModelRequest) -> ModelResponse:
    user = next(m.text_content for m in request.messages if m.role == "user")
    played = sum(m.role == "assistant" for m in request.messages)
    if user.startswith("child:"):
        return ModelResponse(message=Message.text("assistant", f"child says {user[6:].strip().upper()}"))
    if played == 0:
        call = ToolUsePart(id="c1", name="researcher", arguments={"task": "child: find cats"})
        return ModelResponse(message=Message(role="assistant", parts=[call]), stop_reason="tool_use")
    return ModelResponse(
        message=Message.text("assistant", "parent got: " + request.messages[-1].parts[0].content)
    )


async def test_child_run_is_linked_and_completes(harness_factory) -> None:
    h: Harness = harness_factory(FunctionModel(model_fn))
    tool = AgentTool(
        AgentToolConfig(name="researcher", description="runs a research agent", agent_type="research"),
        create_run=h.control.create_run,
        children=h.manager,
    )
    h.tools.append(tool)
    state: RunState = await h.run("parent task")
    assert state.status == "completed"
    assert "child says FIND CATS" in (state.output or "")
    linked = [e.data for e in h.events(state.run_id) if e.type == "child_run.linked"]
    assert len(linked) == 1
    child_id = linked[0]["childRunId"]
    assert child_id == f"{state.run_id}.c1"
    child_events = h.events(child_id)
    assert_one_terminal_last(child_events)
    started: dict[str, Any] = child_events[0].data
    assert started["agentType"] == "research" and started["labels"]["parentRunId"] == state.run_id
    assert (await h.control.get_run(child_id)).status == "completed"
