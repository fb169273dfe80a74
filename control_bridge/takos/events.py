"""Our run events → Takos's run-event types (the one place that reads our event data keys).

Takos's Worker accepts only `user, assistant, system, tool, thinking, tool_call, tool_result, message,
completed, error, progress, started, cancelled`, and derives the terminal events (`message` per assistant
message, then `completed`/`error`) from `complete-run` itself; so terminal events, streamed deltas and our
bookkeeping map to nothing. Data stays within the Worker's bounds (≤ 4096 nodes, depth 32, 64 KiB).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

PREVIEW_BYTES = 4096
MAX_ARGUMENT_BYTES = 16 * 1024
MAX_NODES = 2000
MAX_DEPTH = 24

ALLOWED_TYPES: frozenset[str] = frozenset(
    {
        "user",
        "assistant",
        "system",
        "tool",
        "thinking",
        "tool_call",
        "tool_result",
        "message",
        "completed",
        "error",
        "progress",
        "started",
        "cancelled",
    }
)

_PHASE_MESSAGES = {
    "planning": "Calling the model.",
    "synthesizing": "Writing the answer.",
}


def preview(value: Any, limit: int = PREVIEW_BYTES) -> str:
    """A UTF-8-safe text preview of at most `limit` bytes."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    raw = text.encode()
    if len(raw) <= limit:
        return text
    return raw[: limit - 3].decode("utf-8", "ignore") + "..."


def bounded_json(value: Any, limit: int = MAX_ARGUMENT_BYTES) -> Any:
    """`value` itself when it is small and shallow enough, else a string preview of it."""
    if _fits(value) and len(json.dumps(value, default=str).encode()) <= limit:
        return value
    return preview(value, limit // 4)


def _fits(root: Any) -> bool:
    stack: list[tuple[Any, int]] = [(root, 0)]
    nodes = 0
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES or depth > MAX_DEPTH:
            return False
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
    return True


def _tool_name(data: dict[str, Any]) -> str:
    return str(data.get("toolName") or data.get("name") or "")


def _epoch(time: str | None) -> float | None:
    """An event's RFC 3339 `time` as epoch seconds (None when absent or unreadable)."""
    if not time:
        return None
    try:
        return datetime.fromisoformat(time.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


class EventMapper:
    """Maps one run's events in order; remembers when each tool call was scheduled (for `duration_ms`)."""

    def __init__(self) -> None:
        self._scheduled_at: dict[str, float] = {}
        self._names: dict[str, str] = {}

    def map(self, type_: str, data: dict[str, Any], time: str | None) -> tuple[str, dict[str, Any]] | None:
        """The Takos (type, data) for one of our events, or None when Takos has no counterpart."""
        ts = _epoch(time)
        if type_ == "run.started":
            return "started", {
                "message": "agent-container run started",
                "agent_type": data.get("agentType"),
                "space_id": data.get("spaceId"),
                "thread_id": data.get("threadId"),
            }
        if type_ == "run.resumed":
            return "progress", {"message": f"Resumed from the checkpoint at step {data.get('step', 0)}."}
        if type_ == "phase.changed":
            message = _PHASE_MESSAGES.get(str(data.get("to")))
            return ("thinking", {"message": message}) if message else None
        if type_ == "assistant.message":
            text = str(data.get("text") or "")
            if data.get("toolCalls") and text.strip():  # the final answer arrives through complete-run
                return "thinking", {"message": preview(text)}
            return None
        if type_ == "tool.scheduled":
            call_id = str(data.get("toolCallId", ""))
            if ts is not None:
                self._scheduled_at[call_id] = ts
            self._names[call_id] = _tool_name(data)
            return "tool_call", {
                "id": call_id,
                "tool_call_id": call_id,
                "name": _tool_name(data),
                "arguments": bounded_json(data.get("arguments") or {}),
            }
        if type_ == "tool.result":
            return "tool_result", self._result(data, ts)
        if type_ in ("run.finalizing", "run.reminder"):
            reason = data.get("reason") or data.get("kind") or ""
            return "progress", {"message": f"{type_.split('.', 1)[1]}: {reason}".strip(": ")}
        if type_ in ("run.paused", "run.suspended"):
            return "progress", {"message": type_.split(".", 1)[1]}
        return None

    def _result(self, data: dict[str, Any], ts: float | None) -> dict[str, Any]:
        call_id = str(data.get("toolCallId", ""))
        name = _tool_name(data) or self._names.get(call_id, "")
        ok = bool(data.get("ok"))
        output = data.get("output")
        error = data.get("error")
        error_text: str | None = None
        if not ok:
            if isinstance(error, dict):
                error_text = preview(str(error.get("message") or error.get("kind") or "tool failed"))
            else:
                error_text = preview(str(error or "tool failed"))
        started = self._scheduled_at.pop(call_id, None)
        duration_ms = int(max(0.0, (ts - started) * 1000)) if ts is not None and started is not None else 0
        summary = f"{name} ok" if ok else f"{name} error={error_text}"
        return {
            "id": call_id,
            "tool_call_id": call_id,
            "name": name,
            "summary": preview(summary, 512),
            "result": preview(output if output is not None else "") if ok else None,
            "error": error_text,
            "duration_ms": duration_ms,
        }
