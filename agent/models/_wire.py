"""Renders a provider-neutral scripted `Reply` in the OpenAI and Anthropic wire formats (for the fake server).

Kept apart from the server so the shapes can be checked against the official SDK types in tests.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

_FINISH = {"end_turn": "stop", "tool_use": "tool_calls", "max_tokens": "length", "refusal": "content_filter"}


@dataclass
class ToolCallReply:
    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)
    """A string is sent as is (it may be invalid JSON, to test invalid_call)."""
    id: str | None = None


@dataclass(kw_only=True)
class Reply:
    """One scripted model answer; the server renders it in whichever format was asked for."""

    text: str = ""
    thinking: str | None = None
    signature: str = "sig-scripted"
    redacted_thinking: str | None = None
    tool_calls: list[ToolCallReply] = field(default_factory=list)
    input_tokens: int = 11
    output_tokens: int = 7
    cached_input_tokens: int = 0
    stop: str | None = None
    """end_turn | tool_use | max_tokens | refusal; inferred from tool_calls when unset."""
    reasoning_key: str | None = None
    """OpenAI format only: the non-standard key a compatible server puts `thinking` in (`reasoning_content`
    for vLLM and DeepSeek, `reasoning` for Ollama and OpenRouter). None is OpenAI itself, which sends none."""
    model: str | None = None
    chunk_size: int = 4
    """Characters per streamed text/thinking/argument delta."""
    chunk_delay: float = 0.0
    """Seconds between streamed events (slow streams)."""
    cut_after: int | None = None
    """Stop the stream after this many events: abruptly (connection reset) unless `cut_clean`."""
    cut_clean: bool = False

    def __post_init__(self) -> None:
        self.tool_calls = [ToolCallReply(**c) if isinstance(c, dict) else c for c in self.tool_calls]

    @property
    def stop_reason(self) -> str:
        return self.stop or ("tool_use" if self.tool_calls else "end_turn")

    def call_id(self, i: int, prefix: str) -> str:
        return self.tool_calls[i].id or f"{prefix}_{i}"

    def raw_arguments(self, i: int) -> str:
        args = self.tool_calls[i].arguments
        return args if isinstance(args, str) else json.dumps(args)

    def input_object(self, i: int) -> dict[str, Any]:
        """Anthropic's `input` is always an object: invalid JSON (a cut-off call) is sent as `{}`."""
        args = self.tool_calls[i].arguments
        if isinstance(args, dict):
            return args
        try:
            value = json.loads(args)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}


def _pieces(text: str, size: int) -> Iterator[str]:
    size = max(1, size)
    for i in range(0, len(text), size):
        yield text[i : i + size]


def _sse(data: Any, event: str | None = None) -> bytes:
    body = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {body}\n\n".encode()


# --- OpenAI Chat Completions ---------------------------------------------------------------------------
FINGERPRINT = "fp_scripted"


def openai_usage(r: Reply) -> dict[str, Any]:
    return {
        "prompt_tokens": r.input_tokens,
        "completion_tokens": r.output_tokens,
        "total_tokens": r.input_tokens + r.output_tokens,
        "prompt_tokens_details": {"cached_tokens": r.cached_input_tokens, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def openai_body(r: Reply, model: str, rid: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": r.text or None, "refusal": None}
    if r.thinking and r.reasoning_key:
        message[r.reasoning_key] = r.thinking
    if r.tool_calls:
        message["tool_calls"] = [
            {
                "id": r.call_id(i, "call"),
                "type": "function",
                "function": {"name": c.name, "arguments": r.raw_arguments(i)},
            }
            for i, c in enumerate(r.tool_calls)
        ]
    message["annotations"] = []
    choice = {
        "index": 0,
        "message": message,
        "logprobs": None,
        "finish_reason": _FINISH.get(r.stop_reason, "stop"),
    }
    return {
        "id": rid,
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": r.model or model,
        "choices": [choice],
        "usage": openai_usage(r),
        "service_tier": "default",
        "system_fingerprint": FINGERPRINT,
    }


def openai_events(r: Reply, model: str, rid: str, *, include_usage: bool) -> Iterator[bytes]:
    base: dict[str, Any] = {
        "id": rid,
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": r.model or model,
        "service_tier": "default",
        "system_fingerprint": FINGERPRINT,
    }
    if include_usage:  # every chunk but the last then says "usage": null
        base["usage"] = None

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return _sse({**base, "choices": [choice]})

    yield chunk({"role": "assistant", "content": "", "refusal": None})
    if r.reasoning_key:
        for piece in _pieces(r.thinking or "", r.chunk_size):
            yield chunk({r.reasoning_key: piece})
    for piece in _pieces(r.text, r.chunk_size):
        yield chunk({"content": piece})
    for i, c in enumerate(r.tool_calls):
        head = {"index": i, "id": r.call_id(i, "call"), "type": "function"}
        yield chunk({"tool_calls": [{**head, "function": {"name": c.name, "arguments": ""}}]})
        for piece in _pieces(r.raw_arguments(i), r.chunk_size):
            yield chunk({"tool_calls": [{"index": i, "function": {"arguments": piece}}]})
    yield chunk({}, _FINISH.get(r.stop_reason, "stop"))
    if include_usage:
        yield _sse({**base, "choices": [], "usage": openai_usage(r)})
    yield _sse("[DONE]")


def openai_error(status: int, message: str, etype: str | None) -> dict[str, Any]:
    default = {401: "invalid_api_key", 429: "rate_limit_exceeded", 400: "invalid_request_error"}
    kind = etype or default.get(status, "server_error")
    return {"error": {"message": message, "type": kind, "param": None, "code": kind}}


# --- Anthropic Messages ----------------------------------------------------------------------------------
def anthropic_usage(r: Reply) -> dict[str, Any]:
    return {
        "input_tokens": r.input_tokens - r.cached_input_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": r.cached_input_tokens,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
        "output_tokens": r.output_tokens,
        "service_tier": "standard",
    }


def anthropic_delta_usage(r: Reply) -> dict[str, Any]:
    """message_delta's usage: cumulative totals, without the fields only message_start carries."""
    usage = anthropic_usage(r)
    return {
        k: usage[k]
        for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "output_tokens")
    }


def anthropic_blocks(r: Reply) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if r.thinking is not None:
        blocks.append({"type": "thinking", "thinking": r.thinking, "signature": r.signature})
    if r.redacted_thinking is not None:
        blocks.append({"type": "redacted_thinking", "data": r.redacted_thinking})
    if r.text:
        blocks.append({"type": "text", "text": r.text})
    for i, c in enumerate(r.tool_calls):
        blocks.append(
            {"type": "tool_use", "id": r.call_id(i, "toolu"), "name": c.name, "input": r.input_object(i)}
        )
    return blocks


def anthropic_body(r: Reply, model: str, rid: str) -> dict[str, Any]:
    return {
        "id": rid,
        "type": "message",
        "role": "assistant",
        "model": r.model or model,
        "content": anthropic_blocks(r),
        "stop_reason": r.stop_reason,
        "stop_sequence": None,
        "usage": anthropic_usage(r),
    }


def anthropic_events(r: Reply, model: str, rid: str) -> Iterator[bytes]:
    start = {**anthropic_body(r, model, rid), "content": [], "stop_reason": None}
    start["usage"] = {**anthropic_usage(r), "output_tokens": 1}
    yield _sse({"type": "message_start", "message": start}, "message_start")
    yield _sse({"type": "ping"}, "ping")
    tool_index = 0
    for index, block in enumerate(anthropic_blocks(r)):
        kind = block["type"]
        empty = {
            "text": {"type": "text", "text": ""},
            "thinking": {"type": "thinking", "thinking": "", "signature": ""},
            "tool_use": {**block, "input": {}},
            "redacted_thinking": block,
        }[kind]
        yield _sse(
            {"type": "content_block_start", "index": index, "content_block": empty}, "content_block_start"
        )
        deltas: list[dict[str, Any]] = []
        if kind == "text":
            deltas = [{"type": "text_delta", "text": p} for p in _pieces(block["text"], r.chunk_size)]
        elif kind == "thinking":
            deltas = [
                {"type": "thinking_delta", "thinking": p} for p in _pieces(block["thinking"], r.chunk_size)
            ]
            deltas.append({"type": "signature_delta", "signature": block["signature"]})
        elif kind == "tool_use":
            raw = r.raw_arguments(tool_index)  # as generated: a call cut off by max_tokens stays cut off
            tool_index += 1
            deltas = [{"type": "input_json_delta", "partial_json": p} for p in _pieces(raw, r.chunk_size)]
        for delta in deltas:
            yield _sse({"type": "content_block_delta", "index": index, "delta": delta}, "content_block_delta")
        yield _sse({"type": "content_block_stop", "index": index}, "content_block_stop")
    delta = {"type": "message_delta", "delta": {"stop_reason": r.stop_reason, "stop_sequence": None}}
    yield _sse({**delta, "usage": anthropic_delta_usage(r)}, "message_delta")
    yield _sse({"type": "message_stop"}, "message_stop")


def anthropic_error(status: int, message: str, etype: str | None) -> dict[str, Any]:
    default = {
        400: "invalid_request_error",
        401: "authentication_error",
        403: "permission_error",
        429: "rate_limit_error",
        529: "overloaded_error",
    }
    return {"type": "error", "error": {"type": etype or default.get(status, "api_error"), "message": message}}
