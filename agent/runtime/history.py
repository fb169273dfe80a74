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
