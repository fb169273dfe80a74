"""The A2A conformance model (`MODEL=a2a-conformance`): deterministic behaviour keyed by A2A messageIds.

The A2A TCK drives an agent's behaviour by the prefix of each message's `messageId` (its `scenarios/*.feature`).
This model plays those scenarios through the real loop, run log and event stream: it answers, asks (the
`ask_user` tool, so the task becomes input-required), calls a tool, streams chunks or waits. It is selected
only by that exact MODEL value and is never a fallback. The A2A adapter shows it each message's id as a first
line `[a2a messageId=…]` (only when this model is configured), because a model sees text, not envelopes.

Like the scripted model it is stateless: what to do comes from the newest user-side text in the transcript
(the user message, or the answer to the last question), so a run resumed from a checkpoint replays exactly.

Non-text outputs (files, data, a direct Message reply, a rejection) use the A2A adapter's structured answer:
an assistant text that is a JSON object `{"a2a": {...}}` (see agent/server/a2a/mapping.py).
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections.abc import AsyncIterator
from typing import Any

from agent.models.base import BaseModelClient
from agent.models.types import (
    Chunk,
    Message,
    ModelRequest,
    ModelResponse,
    StopChunk,
    TextChunk,
    TextPart,
    ToolCallChunk,
    ToolResultPart,
    ToolUsePart,
    Usage,
    UsageChunk,
)

MESSAGE_ID_LINE = re.compile(r"^\[a2a messageId=(?P<id>[^\]\s]+)\]\n?")
LONG_WAIT_S = 4.0
"""`test-resubscribe-message-id` stays working this long: twice the TCK's 2 s streaming timeout."""
SLOW_CHUNKS = 6
SLOW_CHUNK_S = 0.4


def _structured(payload: dict[str, Any]) -> str:
    return json.dumps({"a2a": payload}, separators=(",", ":"))


def _file_part() -> dict[str, Any]:
    return {"raw": base64.b64encode(b"tck").decode(), "mediaType": "text/plain", "filename": "output.txt"}


# prefix → what to stream: a list of text chunks (joined they are the answer), or a structured answer.
_ANSWERS: list[tuple[str, list[str] | dict[str, Any]]] = [
    ("tck-stream-artifact-chunked", ["chunk-1 ", "chunk-2"]),
    ("tck-stream-artifact-text", ["Streamed text content"]),
    ("tck-stream-artifact-file", {"parts": [_file_part()]}),
    ("tck-stream-ordering-001", ["Ordered output"]),
    ("tck-stream-001", ["Stream hello from TCK"]),
    ("tck-stream-002", []),
    ("tck-stream-003", ["Stream task lifecycle"]),
    (
        "tck-artifact-file-url",
        {
            "parts": [
                {"url": "https://example.com/output.txt", "mediaType": "text/plain", "filename": "output.txt"}
            ]
        },
    ),
    ("tck-artifact-file", {"parts": [_file_part()]}),
    ("tck-artifact-data", {"parts": [{"data": {"key": "value", "count": 42}}]}),
    ("tck-artifact-text", ["Generated text content"]),
    ("tck-message-response", {"reply": "message", "parts": [{"text": "Direct message response"}]}),
    ("tck-reject-task", {"state": "rejected", "parts": [{"text": "rejected"}]}),
    ("tck-complete-task", ["Hello from TCK"]),
]


def _newest_input(messages: list[Message]) -> tuple[str, str]:
    """(messageId, text) of the newest user-side text: a user message or an answer to `ask_user` (tool
    results without an id line, such as a counter's, are skipped)."""
    for message in reversed(messages):
        if message.role == "user" and message.text_content:
            return _split(message.text_content)
        if message.role == "tool":
            for part in message.parts:
                if isinstance(part, ToolResultPart) and MESSAGE_ID_LINE.match(part.content):
                    return _split(part.content)
    return "", ""


def _split(text: str) -> tuple[str, str]:
    match = MESSAGE_ID_LINE.match(text)
    if match is None:
        return "", text
    return match["id"], text[match.end() :]


def _last_tool_result(messages: list[Message]) -> str | None:
    last = messages[-1] if messages else None
    if last is not None and last.role == "tool":
        return next((p.content for p in last.parts if isinstance(p, ToolResultPart)), None)
    return None


class A2AConformanceModel(BaseModelClient):
    provider = "a2a-conformance"
    model = ""

    def __init__(self, *, long_wait_s: float = LONG_WAIT_S) -> None:
        self.long_wait_s = long_wait_s

    async def stream(self, request: ModelRequest) -> AsyncIterator[Chunk]:
        tools = {t.name for t in request.tools}
        message_id, text = _newest_input(request.messages)
        called = bool(request.messages) and request.messages[-1].role == "tool"
        turn = sum(1 for m in request.messages if m.role == "assistant")
        chunks: list[str] = []
        call: ToolUsePart | None = None
        delay_s = 0.0
        asks = message_id.startswith("tck-input-required") or (
            message_id.startswith("a2a-ask") and not called
        )
        if asks and "ask_user" in tools:
            question = {"question": "What should I do next?"}
            call = ToolUsePart(id=f"ask_{turn}", name="ask_user", arguments=question)
        elif message_id.startswith("a2a-ask"):
            chunks = [f"You answered: {text}"]
        elif message_id.startswith("a2a-confirm") and "counter" in tools and not called:
            call = ToolUsePart(id=f"counter_{turn}", name="counter", arguments={"name": message_id[:100]})
        elif message_id.startswith("a2a-confirm"):
            chunks = [f"The tool answered: {_last_tool_result(request.messages)}"]
        elif message_id.startswith("test-resubscribe-message-id"):
            delay_s, chunks = self.long_wait_s, ["Resubscribe test done"]
        elif message_id.startswith("a2a-slow"):
            chunks = [f"part-{i} " for i in range(1, SLOW_CHUNKS + 1)]
        else:
            chunks = self._answer(message_id, text)
        if delay_s:
            await asyncio.sleep(delay_s)
        parts: list[Any] = []
        for i, chunk in enumerate(chunks):
            if message_id.startswith("a2a-slow") and i:
                await asyncio.sleep(SLOW_CHUNK_S)
            yield TextChunk(text=chunk)
        if chunks:
            parts.append(TextPart(text="".join(chunks)))
        if call is not None:
            parts.append(call)
            yield ToolCallChunk(part=call)
        usage = Usage(input_tokens=len(text) // 4 + 1, output_tokens=sum(len(c) for c in chunks) // 4 + 1)
        yield UsageChunk(usage=usage)
        response = ModelResponse(
            message=Message(role="assistant", parts=parts),
            stop_reason="tool_use" if call is not None else "end_turn",
            usage=usage,
            model="a2a-conformance",
            provider=self.provider,
        )
        yield StopChunk(stop_reason=response.stop_reason, response=response)

    @staticmethod
    def _answer(message_id: str, text: str) -> list[str]:
        for prefix, answer in _ANSWERS:
            if message_id.startswith(prefix):
                return [_structured(answer)] if isinstance(answer, dict) else list(answer)
        if message_id:
            return [f"Unhandled messageId prefix: {message_id}"]
        return [f"A2A conformance model (not a language model). You said: {text}"]

    @property
    def name(self) -> str:
        return "a2a-conformance"
