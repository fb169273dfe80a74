"""Thread history from the control plane, turned into a valid transcript for this run."""

from __future__ import annotations

from typing import Any

from agent.models.types import Message, TextPart, ToolResultPart, ToolUsePart
from control_bridge import contract as c


def history_to_transcript(messages: list[c.HistoryMessage], run_input: str) -> list[Message]:
    """Prior thread messages become transcript messages; the run's input is the last user message."""
    out: list[Message] = []
    for m in messages:
        if m.role == "system":
            continue
        if m.role == "tool":
            if m.tool_call_id and out and out[-1].role in ("assistant", "tool"):
                part = ToolResultPart(tool_use_id=m.tool_call_id, content=m.content)
                if out[-1].role == "tool":
                    out[-1].parts.append(part)
                else:
                    out.append(Message(role="tool", parts=[part]))
            continue
        parts: list[Any] = [TextPart(text=m.content)] if m.content else []
        if m.role == "assistant":
            parts += [ToolUsePart(id=t.id, name=t.name, arguments=t.arguments) for t in m.tool_calls]
        if parts:
            out.append(Message(role=m.role, parts=parts))
    # Drop a trailing assistant tool call that history never answered: the transcript must stay valid.
    while out and out[-1].role == "assistant" and out[-1].tool_uses:
        out.pop()
    if run_input and not (out and out[-1].role == "user" and out[-1].text_content == run_input):
        out.append(Message.text("user", run_input))
    return out


def transcript_to_history(messages: list[Message]) -> list[c.HistoryMessage]:
    """The run's transcript in the contract's message shape (`run.complete`): one tool message per result,
    so every tool call is answered by exactly one message that names it."""
    out: list[c.HistoryMessage] = []
    for m in messages:
        if m.role == "tool":
            for part in m.parts:
                if isinstance(part, ToolResultPart):
                    out.append(
                        c.HistoryMessage(
                            role="tool",
                            content=part.content,
                            tool_call_id=part.tool_use_id,
                            is_error=part.is_error or None,
                        )
                    )
            continue
        calls = [c.HistoryToolCall(id=t.id, name=t.name, arguments=t.arguments) for t in m.tool_uses]
        out.append(c.HistoryMessage(role=m.role, content=m.text_content, tool_calls=calls))
    return out
