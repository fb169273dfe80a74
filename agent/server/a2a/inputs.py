"""A2A messages → what the run gets: the user's input text, or the decision that answers a pending await."""

from __future__ import annotations

import json
import re
from typing import Any

from google.protobuf.json_format import MessageToDict

from a2a.types import Message, Part
from a2a.utils.errors import ContentTypeNotSupportedError, InvalidParamsError

INPUT_MODES = ("text/plain", "text/markdown", "application/json")
"""Media types the agent reads (the card's defaultInputModes); any other text/* is read as text too."""
YES = frozenset({"yes", "y", "approve", "approved", "ok", "allow", "confirm", "true"})
NO = frozenset({"no", "n", "deny", "denied", "reject", "cancel", "false", "stop"})
MAX_RAW = 1_000_000


def _accepted(media_type: str) -> bool:
    base = media_type.split(";", 1)[0].strip().lower()
    return not base or base in INPUT_MODES or base.startswith("text/")


def _part_text(part: Part) -> str:
    kind = part.WhichOneof("content")
    if part.media_type and not _accepted(part.media_type):
        # A file the agent cannot read is kept as a reference the model is told about, not refused: the
        # TCK (CORE-SEND-003, 1.0-dev 357c4a8) requires a successful answer here, as the reference SDK gives.
        size = f"{len(part.raw)} bytes" if kind == "raw" else (part.url or "by reference")
        name = f" {part.filename}" if part.filename else ""
        return f"[attachment{name} ({part.media_type}, {size}): not readable by this agent]"
    if kind == "text":
        return part.text
    if kind == "data":
        return json.dumps(MessageToDict(part.data), ensure_ascii=False)
    if kind == "raw":
        if len(part.raw) > MAX_RAW:
            raise InvalidParamsError(message=f"a raw part may hold at most {MAX_RAW} bytes")
        try:
            text = part.raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ContentTypeNotSupportedError(message="raw parts must be UTF-8 text or JSON") from None
        return f"[file {part.filename}]\n{text}" if part.filename else text
    if kind == "url":
        return f"[file {part.filename or 'at'} {part.url}]"
    raise InvalidParamsError(message="a part must have one of text, raw, url or data")


def render_input(message: Message, *, tag_id: bool) -> str:
    """The message as the run's input text (non-text parts rendered as text)."""
    if not message.message_id:
        raise InvalidParamsError(message="message.messageId is required")
    if not message.parts:
        raise InvalidParamsError(message="message.parts must not be empty")
    text = "\n\n".join(t for t in (_part_text(p) for p in message.parts) if t)
    if not text.strip():
        raise InvalidParamsError(message="the message has no content")
    return f"[a2a messageId={message.message_id}]\n{text}" if tag_id else text


def _data(message: Message) -> dict[str, Any] | None:
    for part in message.parts:
        if part.WhichOneof("content") == "data":
            value = MessageToDict(part.data)
            if isinstance(value, dict):
                return value
    return None


def answer_for(kind: str, message: Message, *, tag_id: bool) -> dict[str, Any]:
    """The `run.continue` decision for the first pending await (a clarification or a confirmation)."""
    data = _data(message)
    if kind == "clarification":
        if data is not None and isinstance(data.get("answer"), str) and data["answer"].strip():
            answer = str(data["answer"])
            return {"answer": f"[a2a messageId={message.message_id}]\n{answer}" if tag_id else answer}
        return {"answer": render_input(message, tag_id=tag_id)}
    approved: bool | None = None
    reason: str | None = None
    if data is not None and isinstance(data.get("approved"), bool):
        approved = bool(data["approved"])
        reason = str(data["reason"]) if isinstance(data.get("reason"), str) else None
    else:
        words = re.findall(r"[\w']+", render_input(message, tag_id=False).lower())
        first = words[0] if words else ""
        if first in YES:
            approved = True
        elif first in NO:
            approved = False
        reason = " ".join(words[1:]) or None
    if approved is None:
        raise InvalidParamsError(
            message='this task waits for a confirmation: reply "yes" or "no", or send a data part '
            '{"approved": true|false, "reason"?: "…"}'
        )
    decision: dict[str, Any] = {"approved": approved, "requestedBy": "a2a-client"}
    if reason:
        decision["reason"] = reason[:500]
    return decision
