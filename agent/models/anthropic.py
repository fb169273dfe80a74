"""Anthropic Messages API over httpx: streaming events, thinking blocks (signature and redacted), tool_use.

Thinking blocks are kept whole with their signature and sent back unchanged: Anthropic verifies them when a
tool loop continues. Usage is normalised to the OpenAI meaning: `input_tokens` counts every prompt token
(cache reads and writes included) and `cached_input_tokens` the part read from the cache.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from agent.models._http import HTTPModelClient, iter_sse, parse_arguments
from agent.models.errors import ModelUnavailable, classify_status
from agent.models.settings import DEFAULT_TIMEOUT
from agent.models.transcript import validate_transcript
from agent.models.types import (
    Chunk,
    Message,
    ModelRequest,
    ModelResponse,
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
    Usage,
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


def _block(part: Any) -> dict[str, Any] | None:
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
    return None


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


def _usage(raw: dict[str, Any] | None, base: Usage | None = None) -> Usage:
    raw = raw or {}
    base = base or Usage()
    cached = int(raw.get("cache_read_input_tokens") or 0)
    if "input_tokens" in raw and raw["input_tokens"] is not None:
        total_in = int(raw["input_tokens"]) + int(raw.get("cache_creation_input_tokens") or 0) + cached
    else:
        total_in, cached = base.input_tokens, base.cached_input_tokens
    return Usage(
        input_tokens=total_in,
        output_tokens=int(raw.get("output_tokens") or base.output_tokens),
        cached_input_tokens=cached,
    )


def _part(block: dict[str, Any], index: int) -> Any | None:
    kind = block.get("type")
    if kind == "text":
        return TextPart(text=block.get("text") or "")
    if kind == "thinking":
        return ThinkingPart(thinking=block.get("thinking") or "", signature=block.get("signature"))
    if kind == "redacted_thinking":
        return ThinkingPart(thinking=block.get("data") or "", redacted=True)
    if kind == "tool_use":
        raw = block.get("input")
        if isinstance(raw, dict):
            arguments, bad = raw, None
        else:
            arguments, bad = parse_arguments(raw if isinstance(raw, str) else json.dumps(raw))
        return ToolUsePart(
            id=block.get("id") or f"toolu_{index}",
            name=block.get("name") or "",
            arguments=arguments,
            raw_arguments=bad,
        )
    return None


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
        version: str = "2023-06-01",
    ) -> None:
        super().__init__(model, base_url=base_url, http_client=http_client, timeout=timeout)
        self._api_key = api_key
        self.default_max_tokens = default_max_tokens
        self.thinking_budget_tokens = thinking_budget_tokens
        self.version = version

    def _headers(self) -> dict[str, str]:
        headers = {"content-type": "application/json", "anthropic-version": self.version}
        if self._api_key:
            headers["x-api-key"] = self._api_key
        return headers

    def build_payload(self, request: ModelRequest, *, stream: bool) -> dict[str, Any]:
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

    def parse_response(self, body: dict[str, Any], *, request_id: str | None = None) -> ModelResponse:
        if body.get("type") == "error":
            raise classify_status(0, body, {}, provider=self.provider, model=self.model)
        parts = [p for i, b in enumerate(body.get("content") or []) if (p := _part(b, i)) is not None]
        stop = _STOP.get(body.get("stop_reason") or "", "other")
        return ModelResponse(
            message=Message(role="assistant", parts=parts),
            stop_reason=stop,
            usage=_usage(body.get("usage")),
            model=body.get("model") or self.model,
            provider=self.provider,
            request_id=request_id or body.get("id"),
        )

    async def stream(self, request: ModelRequest) -> AsyncIterator[Chunk]:
        payload = self.build_payload(request, stream=True)
        self.calls += 1
        blocks: dict[int, dict[str, Any]] = {}
        pieces: dict[int, list[str]] = {}  # text, thinking or JSON pieces per block index
        usage = Usage()
        stop_reason: str | None = None
        model = self.model
        finished = False
        async with self._open_stream(self.path, payload) as response:
            request_id = response.headers.get(self.request_id_header)
            async for event, data in iter_sse(response):
                if finished:
                    continue
                body = self.event_json(data)
                kind = body.get("type") or event
                if kind == "content_block_delta":
                    index, delta = body.get("index", 0), body.get("delta") or {}
                    dkind = delta.get("type")
                    if index not in blocks:
                        raise ModelUnavailable(
                            f"delta for unknown block {index}", provider=self.provider, model=self.model
                        )
                    if dkind == "text_delta":
                        pieces[index].append(delta.get("text", ""))
                        yield TextChunk(text=delta.get("text", ""))
                    elif dkind == "thinking_delta":
                        pieces[index].append(delta.get("thinking", ""))
                        yield ThinkingChunk(thinking=delta.get("thinking", ""))
                    elif dkind == "signature_delta":
                        blocks[index]["signature"] = blocks[index].get("signature") or ""
                        blocks[index]["signature"] += delta.get("signature", "")
                        yield ThinkingChunk(thinking="", signature=delta.get("signature", ""))
                    elif dkind == "input_json_delta":
                        pieces[index].append(delta.get("partial_json", ""))
                        yield ToolCallDeltaChunk(index=index, arguments_delta=delta.get("partial_json", ""))
                elif kind == "content_block_start":
                    index, block = body.get("index", 0), dict(body.get("content_block") or {})
                    blocks[index], pieces[index] = block, []
                    if block.get("type") == "tool_use":
                        yield ToolCallDeltaChunk(index=index, id=block.get("id"), name=block.get("name"))
                elif kind == "content_block_stop":
                    index = body.get("index", 0)
                    block = _finish_block(blocks.get(index) or {}, pieces.get(index) or [])
                    blocks[index] = block
                    if block.get("type") == "tool_use" and (part := _part(block, index)) is not None:
                        yield ToolCallChunk(part=part)
                elif kind == "message_start":
                    message = body.get("message") or {}
                    model = message.get("model") or model
                    request_id = request_id or message.get("id")
                    usage = _usage(message.get("usage"))
                elif kind == "message_delta":
                    stop_reason = (body.get("delta") or {}).get("stop_reason") or stop_reason
                    usage = _usage(body.get("usage"), usage)
                elif kind == "message_stop":
                    finished = True  # keep reading to the end of the body: the connection is reused
                elif kind == "error":
                    raise self.redact(
                        classify_status(0, body, response.headers, provider=self.provider, model=self.model)
                    )
        if not finished:
            raise ModelUnavailable(
                "stream ended before it finished", provider=self.provider, model=self.model
            )
        parts = [p for i in sorted(blocks) if (p := _part(blocks[i], i)) is not None]
        stop = _STOP.get(stop_reason or "", "other")
        yield UsageChunk(usage=usage)
        result = ModelResponse(
            message=Message(role="assistant", parts=parts),
            stop_reason=stop,
            usage=usage,
            model=model,
            provider=self.provider,
            request_id=request_id,
        )
        yield StopChunk(stop_reason=stop, response=result)


def _finish_block(block: dict[str, Any], pieces: list[str]) -> dict[str, Any]:
    """Folds the streamed pieces into the block, the way the non-streaming API would have sent it."""
    kind = block.get("type")
    if kind == "text":
        block["text"] = (block.get("text") or "") + "".join(pieces)
    elif kind == "thinking":
        block["thinking"] = (block.get("thinking") or "") + "".join(pieces)
    elif kind == "tool_use":
        raw = "".join(pieces)
        if raw:  # malformed JSON stays a string: _part turns it into raw_arguments
            arguments, bad = parse_arguments(raw)
            block["input"] = arguments if bad is None else raw
    return block
