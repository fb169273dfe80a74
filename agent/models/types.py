"""Provider-neutral request, response and stream-chunk types.

Every part and chunk carries a `kind` literal and each family is one discriminated union, so a transcript
round-trips through JSON (checkpoints) without losing which part was which.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from pydantic.alias_generators import to_camel


class _Model(BaseModel):
    """camelCase when dumped by alias (checkpoints), snake_case in Python; both accepted on input."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True)


class TextPart(_Model):
    kind: Literal["text"] = "text"
    text: str


class ThinkingPart(_Model):
    kind: Literal["thinking"] = "thinking"
    thinking: str = ""
    signature: str | None = None
    redacted: bool = False
    """Redacted thinking carries its opaque payload in `thinking` and must be sent back unchanged."""


class ToolUsePart(_Model):
    kind: Literal["tool_use"] = "tool_use"
    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    raw_arguments: str | None = None
    """Set when the model's arguments were not a JSON object: the loop answers with `invalid_call`."""


class ToolResultPart(_Model):
    kind: Literal["tool_result"] = "tool_result"
    tool_use_id: str
    content: str
    is_error: bool = False


Part = Annotated[TextPart | ThinkingPart | ToolUsePart | ToolResultPart, Field(discriminator="kind")]
Role = Literal["system", "user", "assistant", "tool"]


class Message(_Model):
    """One transcript message. Tool results travel in `tool` messages, one part per answered tool_use."""

    role: Role
    parts: list[Part] = Field(default_factory=list)

    @classmethod
    def text(cls, role: Role, text: str) -> Message:
        return cls(role=role, parts=[TextPart(text=text)])

    @property
    def text_content(self) -> str:
        return "".join(p.text for p in self.parts if isinstance(p, TextPart))

    @property
    def tool_uses(self) -> list[ToolUsePart]:
        return [p for p in self.parts if isinstance(p, ToolUsePart)]


class ToolDefinition(_Model):
    name: str
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})


ToolChoice = Literal["auto", "none", "required"]


class ModelRequest(_Model):
    messages: list[Message]
    tools: list[ToolDefinition] = Field(default_factory=list)
    tool_choice: ToolChoice = "auto"
    temperature: float | None = None
    max_tokens: int | None = None
    thinking: bool = False
    run_id: str | None = None
    """For error messages and rate-limit fairness only; never sent to a provider."""


class Usage(_Model):
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cached_input_tokens=self.cached_input_tokens + other.cached_input_tokens,
        )


StopReason = Literal["end_turn", "tool_use", "max_tokens", "stop_sequence", "refusal", "other"]


class ModelResponse(_Model):
    message: Message
    stop_reason: StopReason = "end_turn"
    usage: Usage = Field(default_factory=Usage)
    model: str = ""
    provider: str = ""
    request_id: str | None = None


# --- stream chunks -------------------------------------------------------------------------------------
class TextChunk(_Model):
    kind: Literal["text"] = "text"
    text: str


class ThinkingChunk(_Model):
    kind: Literal["thinking"] = "thinking"
    thinking: str = ""
    signature: str | None = None


class ToolCallDeltaChunk(_Model):
    """A piece of a tool call as it streams (OpenAI-style argument deltas)."""

    kind: Literal["tool_call_delta"] = "tool_call_delta"
    index: int
    id: str | None = None
    name: str | None = None
    arguments_delta: str = ""


class ToolCallChunk(_Model):
    """A whole, assembled tool call."""

    kind: Literal["tool_call"] = "tool_call"
    part: ToolUsePart


class UsageChunk(_Model):
    kind: Literal["usage"] = "usage"
    usage: Usage


class StopChunk(_Model):
    """Always the last chunk; carries the assembled response so consumers never re-assemble."""

    kind: Literal["stop"] = "stop"
    stop_reason: StopReason
    response: ModelResponse


Chunk = Annotated[
    TextChunk | ThinkingChunk | ToolCallDeltaChunk | ToolCallChunk | UsageChunk | StopChunk,
    Field(discriminator="kind"),
]


def is_shown(chunk: Chunk) -> bool:
    """Whether a chunk is shown as it passes (EventEmittingModel makes an event of it): text or thinking
    with content. Tool-call pieces, usage and signatures are only read once the stream has ended."""
    return (isinstance(chunk, TextChunk) and bool(chunk.text)) or (
        isinstance(chunk, ThinkingChunk) and bool(chunk.thinking)
    )


MESSAGES_ADAPTER: TypeAdapter[list[Message]] = TypeAdapter(list[Message])
