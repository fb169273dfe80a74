"""What the client reads from the Anthropic Messages API, as lenient typed dicts checked by pydantic.

Unknown keys are dropped; a value of the wrong shape fails validation and becomes a classified
`ModelUnavailable`. Usage is kept in Anthropic's own fields while a stream runs and merged field by field
the way the official SDK does: a `message_delta` carries cumulative totals, and a field it leaves out or sends
as null keeps the value `message_start` gave (absent is not zero).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import TypeAdapter
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

from agent.models.types import Usage


class Block(TypedDict, total=False):
    """One content block: text, thinking, redacted_thinking or tool_use (others are skipped)."""

    type: str
    text: str | None
    thinking: str | None
    signature: str | None
    data: str | None
    id: str | None
    name: str | None
    input: Any
    """An object from the API; while streaming, the assembled JSON text until it is parsed."""


class AnthropicUsage(TypedDict, total=False):
    input_tokens: int | None
    output_tokens: int | None
    cache_creation_input_tokens: int | None
    cache_read_input_tokens: int | None


class MessageBody(TypedDict, total=False):
    type: str | None
    id: str | None
    model: str | None
    content: list[Block] | None
    stop_reason: str | None
    usage: AnthropicUsage | None
    error: Any


class Delta(TypedDict, total=False):
    type: str | None
    text: str | None
    thinking: str | None
    signature: str | None
    partial_json: str | None
    stop_reason: str | None


class StreamEvent(TypedDict, total=False):
    type: str | None
    index: int | None
    message: MessageBody | None
    content_block: Block | None
    delta: Delta | None
    usage: AnthropicUsage | None
    error: Any


@cache
def message_body() -> TypeAdapter[MessageBody]:
    """Built on first use, not at import: the server's start path imports this module."""
    return TypeAdapter(MessageBody)


@cache
def stream_event() -> TypeAdapter[StreamEvent]:
    return TypeAdapter(StreamEvent)


def merge_usage(earlier: AnthropicUsage, later: AnthropicUsage | None) -> AnthropicUsage:
    """Later values win field by field; absent or null ones keep the earlier value."""
    if not later:
        return earlier
    # (mypy cannot tell that the comprehension keeps the TypedDict's keys and value types)
    return {**earlier, **{k: v for k, v in later.items() if v is not None}}  # type: ignore[typeddict-item]


def normalised(raw: AnthropicUsage | None) -> Usage:
    """The OpenAI meaning: input counts every prompt token (cache reads and writes included)."""
    raw = raw or {}
    read = raw.get("cache_read_input_tokens") or 0
    written = raw.get("cache_creation_input_tokens") or 0
    return Usage(
        input_tokens=(raw.get("input_tokens") or 0) + written + read,
        output_tokens=raw.get("output_tokens") or 0,
        cached_input_tokens=read,
    )
