from __future__ import annotations

from agent.models import (
    Chunk,
    Message,
    ModelClient,
    ModelRequest,
    ThinkingPart,
    ToolDefinition,
    ToolResultPart,
    ToolUsePart,
)

CALC = ToolDefinition(
    name="calc",
    description="evaluates arithmetic",
    parameters={"type": "object", "properties": {"expression": {"type": "string"}}},
)


def ask(text: str = "what is 2+2?", **kw: object) -> ModelRequest:
    return ModelRequest(messages=[Message.text("system", "be brief"), Message.text("user", text)], **kw)


def with_tools(text: str = "what is 2+2?", **kw: object) -> ModelRequest:
    return ask(text, tools=[CALC], **kw)


def tool_round(thinking: ThinkingPart | None = None) -> ModelRequest:
    """A transcript after one tool call was answered."""
    assistant_parts: list = [thinking] if thinking else []
    assistant_parts.append(ToolUsePart(id="call_a", name="calc", arguments={"expression": "2+2"}))
    return ModelRequest(
        messages=[
            Message.text("system", "be brief"),
            Message.text("user", "what is 2+2?"),
            Message(role="assistant", parts=assistant_parts),
            Message(role="tool", parts=[ToolResultPart(tool_use_id="call_a", content="4")]),
        ],
        tools=[CALC],
        thinking=thinking is not None,
    )


async def collect(model: ModelClient, request: ModelRequest) -> list[Chunk]:
    return [chunk async for chunk in model.stream(request)]
