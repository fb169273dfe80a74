"""Agent-as-tool: a tool that runs another agent configuration as a child run with its own runId.

The child id is derived from the parent's run and tool call, so a parent resumed after a crash re-attaches
to the same child instead of starting a second one. The child's events are on its own stream; the parent
gets a `child_run.linked` event and the child's answer as the tool result.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from agent.events.payloads import ChildRunLinked
from agent.tools.spec import ToolCallContext, ToolFailure, ToolSpec
from control_bridge import contract as c
from control_bridge.errors import BridgeError, Conflict

if TYPE_CHECKING:
    from agent.runtime.bootstrap import ChildRuns


class AgentToolConfig(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_\-]{1,64}$")
    description: str
    agent_type: str = "default"
    model: str | None = None
    system_prompt: str | None = None
    max_tool_calls: int | None = Field(default=None, ge=1)


class AgentTool:
    def __init__(
        self,
        config: AgentToolConfig,
        *,
        create_run: Callable[[c.CreateRunParams], Awaitable[c.CreateRunResult]] | None,
        children: ChildRuns,
    ) -> None:
        self.config = config
        self._create_run = create_run
        self._children = children
        self.spec = ToolSpec(
            name=config.name,
            description=config.description,
            parameters={
                "type": "object",
                "properties": {
                    "task": {"type": "string", "minLength": 1, "description": "what the agent should do"}
                },
                "required": ["task"],
                "additionalProperties": False,
            },
            side_effects=True,
            tags=("agent",),
        )

    async def execute(self, arguments: dict[str, Any], ctx: ToolCallContext) -> Any:
        if self._create_run is None:
            raise ToolFailure("unavailable", "child runs need a control plane that can create runs", "replan")
        child_id = f"{ctx.run_id}.{ctx.tool_call_id}"
        policy = c.PolicyConfig(max_tool_calls=self.config.max_tool_calls)
        params = c.CreateRunParams(
            input=arguments["task"],
            run_id=child_id,
            space_id=ctx.space_id,
            agent_type=self.config.agent_type,
            labels={"parentRunId": ctx.run_id, "parentToolCallId": ctx.tool_call_id},
            config=c.RunConfigResult(
                system_prompt=self.config.system_prompt, model=self.config.model, policy=policy
            ),
        )
        lease = 1
        try:
            lease = (await self._create_run(params)).lease_version
        except Conflict:
            pass  # created before a crash: re-attach to it
        except BridgeError as exc:
            raise ToolFailure("unavailable", f"could not create the child run ({exc.name})") from exc
        self._children.link_child(
            ctx.run_id,
            ChildRunLinked(
                child_run_id=child_id,
                tool_call_id=ctx.tool_call_id,
                tool_name=self.config.name,
                agent_type=self.config.agent_type,
            ),
            key=f"child_run.linked:{child_id}",
        )
        state = await self._children.run_child(child_id, lease, self.config.model)
        if state is None or state.status != "completed":
            status = getattr(state, "status", "unknown")
            raise ToolFailure("domain_rejection", f"the child run {child_id} ended {status}", "replan")
        return {"childRunId": child_id, "status": state.status, "output": state.output}
