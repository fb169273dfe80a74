"""Built-in local tools the loop itself understands."""

from __future__ import annotations

from typing import Any

from agent.tools.spec import ToolCallContext, ToolFailure, ToolSpec


class AskUserTool:
    """Lets the model ask the person a question. The loop intercepts the call and suspends the run with an
    `await.clarification`; `execute` only runs when interrupts are not allowed, and says so."""

    spec = ToolSpec(
        name="ask_user",
        description=(
            "Ask the user a clarifying question when you cannot proceed without their answer. "
            "The run pauses until they reply; their answer comes back as this tool's result."
        ),
        parameters={
            "type": "object",
            "properties": {"question": {"type": "string", "minLength": 1, "maxLength": 2000}},
            "required": ["question"],
            "additionalProperties": False,
        },
        side_effects=False,
    )

    async def execute(self, arguments: dict[str, Any], ctx: ToolCallContext) -> Any:
        raise ToolFailure(
            "domain_rejection", "this run may not interrupt the user; decide without asking", "replan"
        )
