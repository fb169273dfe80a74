"""What the client reads from the Anthropic Messages API, as lenient pydantic models.

Unknown keys are ignored; a value of the wrong shape fails validation and becomes a classified
`ModelUnavailable`. Usage is kept in Anthropic's own fields while a stream runs and merged field by field
the way the official SDK does: a `message_delta` carries cumulative totals, and a field it leaves out or sends
as null keeps the value `message_start` gave (absent is not zero).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from agent.models.types import Usage

_USAGE_FIELDS = ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Block(_Wire):
    """One content block: text, thinking, redacted_thinking or tool_use (others are skipped)."""

    type: str = ""
    text: str | None = None
    thinking: str | None = None
    signature: str | None = None
    data: str | None = None
    id: str | None = None
    name: str | None = None
    input: Any = None
    """An object from the API; while streaming, the assembled JSON text until it is parsed."""


class AnthropicUsage(_Wire):
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_creation_input_tokens: int | None = None
    cache_read_input_tokens: int | None = None

    def merged(self, later: AnthropicUsage | None) -> AnthropicUsage:
        if later is None:
            return self
        update = {f: value for f in _USAGE_FIELDS if (value := getattr(later, f)) is not None}
        return self.model_copy(update=update) if update else self

    def normalised(self) -> Usage:
        """The OpenAI meaning: input counts every prompt token (cache reads and writes included)."""
        read = self.cache_read_input_tokens or 0
        written = self.cache_creation_input_tokens or 0
        return Usage(
            input_tokens=(self.input_tokens or 0) + written + read,
            output_tokens=self.output_tokens or 0,
            cached_input_tokens=read,
        )


class MessageBody(_Wire):
    type: str | None = None
    id: str | None = None
    model: str | None = None
    content: list[Block] | None = None
    stop_reason: str | None = None
    usage: AnthropicUsage | None = None
    error: Any = None


class Delta(_Wire):
    type: str | None = None
    text: str | None = None
    thinking: str | None = None
    signature: str | None = None
    partial_json: str | None = None
    stop_reason: str | None = None


class StreamEvent(_Wire):
    type: str | None = None
    index: int | None = None
    message: MessageBody | None = None
    content_block: Block | None = None
    delta: Delta | None = None
    usage: AnthropicUsage | None = None
    error: Any = None
