"""Anthropic Messages API over httpx: streaming events, thinking blocks (signature and redacted), tool_use.

Thinking blocks are kept whole with their signature and sent back unchanged: Anthropic verifies them when a
tool loop continues. Usage is normalised to the OpenAI meaning: `input_tokens` counts every prompt token
(cache reads and writes included) and `cached_input_tokens` the part read from the cache.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx

from agent.models._anthropic_shapes import (
    AnthropicUsage,
    Block,
    Delta,
    MessageBody,
    merge_usage,
    message_body,
    normalised,
    stream_event,
)
from agent.models._http import HTTPModelClient, iter_sse, parse_arguments
from agent.models.errors import ModelError, ModelUnavailable, classify_status
from agent.models.settings import DEFAULT_TIMEOUT
from agent.models.transcript import validate_transcript
from agent.models.types import (
    Chunk,
    Message,
    ModelRequest,
    ModelResponse,
    Part,
    StopChunk,
    StopReason,
    TextChunk,
    TextPart,
    ThinkingChunk,
    ThinkingPart,
    ToolCallChunk,
    ToolCallDeltaChunk,
    ToolResultPart,
    ToolUsePart,
    UsageChunk,
)

_STOP: dict[str, StopReason] = {
    "end_turn": "end_turn",
    "tool_use": "tool_use",
    "max_tokens": "max_tokens",
    "stop_sequence": "stop_sequence",
    "refusal": "refusal",
}
_CHOICE = {"auto": {"type": "auto"}, "required": {"type": "any"}, "none": {"type": "none"}}


def _block(part: Part) -> dict[str, Any] | None:
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text} if part.text else None
    if isinstance(part, ThinkingPart):
        if part.redacted:
            return {"type": "redacted_thinking", "data": part.thinking}
        # Unsigned thinking (from another provider) would be rejected; it is dropped, not forged.
        return (
            {"type": "thinking", "thinking": part.thinking, "signature": part.signature}
            if part.signature
            else None
        )
    if isinstance(part, ToolUsePart):
        return {"type": "tool_use", "id": part.id, "name": part.name, "input": part.arguments}
    if isinstance(part, ToolResultPart):
        block: dict[str, Any] = {
            "type": "tool_result",
            "tool_use_id": part.tool_use_id,
            "content": part.content,
        }
        if part.is_error:
            block["is_error"] = True
        return block


def to_anthropic_messages(messages: list[Message]) -> tuple[str | None, list[dict[str, Any]]]:
    """(system, messages): system hoisted; tool messages become user turns; same-role neighbours merged."""
    system = "\n\n".join(m.text_content for m in messages if m.role == "system" and m.text_content) or None
    out: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            continue
        role = "assistant" if message.role == "assistant" else "user"
        blocks = [b for b in (_block(p) for p in message.parts) if b is not None]
        if not blocks:
            continue
        if out and out[-1]["role"] == role:
            merged = out[-1]["content"] + blocks
            if role == "user":  # tool_result blocks must open the user turn
                merged.sort(key=lambda b: b["type"] != "tool_result")
            out[-1]["content"] = merged
        else:
            out.append({"role": role, "content": blocks})
    return system, out


def _part(block: Block, index: int) -> Part | None:
    kind = block.get("type")
    if kind == "text":
        return TextPart(text=block.get("text") or "")
    if kind == "thinking":
        return ThinkingPart(thinking=block.get("thinking") or "", signature=block.get("signature"))
    if kind == "redacted_thinking":
        return ThinkingPart(thinking=block.get("data") or "", redacted=True)
    if kind == "tool_use":
        return _tool_use(block, index)
    return None


def _tool_use(block: Block, index: int) -> ToolUsePart:
    raw = block.get("input")
    arguments: dict[str, Any]
    bad: str | None = None
    if raw is None:
        arguments = {}
    elif isinstance(raw, dict):
        arguments = raw
    else:
        arguments, bad = parse_arguments(raw if isinstance(raw, str) else json.dumps(raw))
    return ToolUsePart(
        id=block.get("id") or f"toolu_{index}",
        name=block.get("name") or "",
        arguments=arguments,
        raw_arguments=bad,
    )


class AnthropicModel(HTTPModelClient):
    provider = "anthropic"
    path = "/v1/messages"
    request_id_header = "request-id"

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None = None,
        base_url: str = "https://api.anthropic.com",
        http_client: httpx.AsyncClient | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        default_max_tokens: int = 4096,
        thinking_budget_tokens: int = 2048,
        thinking: bool = False,
        version: str = "2023-06-01",
    ) -> None:
        super().__init__(model, base_url=base_url, http_client=http_client, timeout=timeout)
        self._api_key = api_key
        self.default_max_tokens = default_max_tokens
        self.thinking_budget_tokens = thinking_budget_tokens
        self.thinking = thinking
        """Think on every request, whatever the request says (the MODEL_THINKING_BUDGET_TOKENS setting)."""
        self.version = version

    def _headers(self) -> dict[str, str]:
        headers = {"content-type": "application/json", "anthropic-version": self.version}
        if self._api_key:
            headers["x-api-key"] = self._api_key
        return headers

    def build_payload(self, request: ModelRequest, *, stream: bool) -> dict[str, Any]:
        if self.thinking and not request.thinking:
            request = request.model_copy(update={"thinking": True})
        validate_transcript(request, provider=self.provider, model=self.model, run_id=request.run_id)
        system, messages = to_anthropic_messages(request.messages)
        max_tokens = request.max_tokens or self.default_max_tokens
        payload: dict[str, Any] = {"model": self.model, "messages": messages, "max_tokens": max_tokens}
        if system:
            payload["system"] = system
        if request.thinking:
            budget = self.thinking_budget_tokens
            if max_tokens <= budget:  # the budget counts inside max_tokens
                payload["max_tokens"] = budget + max_tokens
            payload["thinking"] = {"type": "enabled", "budget_tokens": budget}
        elif request.temperature is not None:  # thinking requires the default temperature
            payload["temperature"] = request.temperature
        if request.tools:
            payload["tools"] = [
                {"name": t.name, "description": t.description, "input_schema": t.parameters}
                for t in request.tools
            ]
            choice = request.tool_choice
            if request.thinking and choice == "required":  # forced tool use is not allowed with thinking
                choice = "auto"
            payload["tool_choice"] = _CHOICE[choice]
        if stream:
            payload["stream"] = True
        return payload

    def _in_band_error(self, error: Any, headers: Mapping[str, str]) -> ModelError:
        found = classify_status(
            0, {"type": "error", "error": error}, headers, provider=self.provider, model=self.model
        )
        return self.redact(found)

    def parse_response(self, content: bytes, *, request_id: str | None = None) -> ModelResponse:
        body = self.decode(content, message_body(), "response body")
        if body.get("type") == "error" or body.get("error"):
            raise self._in_band_error(body.get("error"), {})
        parts = [p for i, b in enumerate(body.get("content") or ()) if (p := _part(b, i)) is not None]
        return ModelResponse(
            message=Message(role="assistant", parts=parts),
            stop_reason=_STOP.get(body.get("stop_reason") or "", "other"),
            usage=normalised(body.get("usage")),
            model=body.get("model") or self.model,
            provider=self.provider,
            request_id=request_id or body.get("id"),
        )

    async def read_stream(self, response: httpx.Response, request_id: str | None) -> AsyncIterator[Chunk]:
        blocks: dict[int, Block] = {}
        pieces: dict[int, list[str]] = {}  # text, thinking or JSON pieces per block index
        usage: AnthropicUsage = {}
        stop_reason: str | None = None
        model = self.model
        finished = False
        async for event, data in iter_sse(response):
            if finished:
                continue  # keep reading to the end of the body: the connection is reused
            body = self.decode(data, stream_event(), "stream event")
            kind = body.get("type") or event
            index = body.get("index") or 0
            if kind == "content_block_delta":
                delta: Delta = body.get("delta") or {}
                dkind = delta.get("type")
                if index not in blocks:
                    raise ModelUnavailable(
                        f"delta for unknown block {index}", provider=self.provider, model=self.model
                    )
                if dkind == "text_delta":
                    piece = delta.get("text") or ""
                    pieces[index].append(piece)
                    yield TextChunk(text=piece)
                elif dkind == "thinking_delta":
                    piece = delta.get("thinking") or ""
                    pieces[index].append(piece)
                    yield ThinkingChunk(thinking=piece)
                elif dkind == "signature_delta":
                    piece = delta.get("signature") or ""
                    blocks[index]["signature"] = (blocks[index].get("signature") or "") + piece
                    yield ThinkingChunk(thinking="", signature=piece)
                elif dkind == "input_json_delta":
                    piece = delta.get("partial_json") or ""
                    pieces[index].append(piece)
                    yield ToolCallDeltaChunk(index=index, arguments_delta=piece)
            elif kind == "content_block_start":
                block: Block = body.get("content_block") or {}
                blocks[index], pieces[index] = block, []
                if block.get("type") == "tool_use":
                    yield ToolCallDeltaChunk(index=index, id=block.get("id"), name=block.get("name"))
            elif kind == "content_block_stop":
                block = _finish_block(blocks.get(index) or {}, pieces.get(index) or [])
                blocks[index] = block
                if block.get("type") == "tool_use":
                    yield ToolCallChunk(part=_tool_use(block, index))
            elif kind == "message_start":
                message: MessageBody = body.get("message") or {}
                model = message.get("model") or model
                request_id = request_id or message.get("id")
                usage = merge_usage(usage, message.get("usage"))
            elif kind == "message_delta":
                stop_reason = (body.get("delta") or {}).get("stop_reason") or stop_reason
                usage = merge_usage(usage, body.get("usage"))
            elif kind == "message_stop":
                finished = True
            elif kind == "error":
                raise self._in_band_error(body.get("error"), response.headers)
        if not finished:
            raise self.unfinished(response)
        parts = [p for i in sorted(blocks) if (p := _part(blocks[i], i)) is not None]
        stop = _STOP.get(stop_reason or "", "other")
        total = normalised(usage)
        yield UsageChunk(usage=total)
        result = ModelResponse(
            message=Message(role="assistant", parts=parts),
            stop_reason=stop,
            usage=total,
            model=model,
            provider=self.provider,
            request_id=request_id,
        )
        yield StopChunk(stop_reason=stop, response=result)


def _finish_block(block: Block, pieces: list[str]) -> Block:
    """Folds the streamed pieces into the block, the way the non-streaming API would have sent it."""
    kind = block.get("type")
    if kind == "text":
        block["text"] = (block.get("text") or "") + "".join(pieces)
    elif kind == "thinking":
        block["thinking"] = (block.get("thinking") or "") + "".join(pieces)
    elif kind == "tool_use":
        raw = "".join(pieces)
        if raw:  # malformed JSON (a call cut off by max_tokens) stays a string: _part makes raw_arguments
            arguments, bad = parse_arguments(raw)
            block["input"] = arguments if bad is None else raw
    return block
