"""What the client reads from Chat Completions servers, as lenient pydantic models.

One model serves the non-streamed body and each stream chunk (a choice has `message` or `delta`). Unknown
keys are ignored (every server adds its own); a value of the wrong shape (a list where an object belongs)
fails validation, which the client turns into a classified `ModelUnavailable` instead of an AttributeError.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from agent.models.types import Usage


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ContentPart(_Wire):
    """Some compatible servers send `content` as a list of parts instead of a string."""

    type: str = "text"
    text: str | None = None


class FunctionCall(_Wire):
    name: str | None = None
    arguments: str | dict[str, Any] | None = None
    """A JSON string per the spec; a few servers send the object itself."""


class ToolCall(_Wire):
    index: int | None = None
    id: str | None = None
    function: FunctionCall | None = None


class ChatMessage(_Wire):
    """A whole `message` or a streamed `delta`."""

    content: str | list[ContentPart] | None = None
    refusal: str | None = None
    reasoning_content: Any = None
    """Not OpenAI's: vLLM and DeepSeek put thinking here, Ollama and OpenRouter in `reasoning`."""
    reasoning: Any = None
    tool_calls: list[ToolCall] | None = None

    @property
    def text(self) -> str:
        content = self.content
        if content is None or isinstance(content, str):
            return content or ""
        return "".join(p.text or "" for p in content if p.type in ("text", "output_text"))

    @property
    def thinking(self) -> str:
        for value in (self.reasoning_content, self.reasoning):
            if isinstance(value, str) and value:
                return value
        return ""


class Choice(_Wire):
    message: ChatMessage | None = None
    delta: ChatMessage | None = None
    finish_reason: str | None = None


class PromptTokensDetails(_Wire):
    cached_tokens: int | None = None


class CompletionUsage(_Wire):
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    prompt_tokens_details: PromptTokensDetails | None = None

    @property
    def reported(self) -> bool:
        return self.prompt_tokens is not None or self.completion_tokens is not None

    def normalised(self) -> Usage:
        details = self.prompt_tokens_details
        return Usage(
            input_tokens=self.prompt_tokens or 0,
            output_tokens=self.completion_tokens or 0,
            cached_input_tokens=(details.cached_tokens or 0) if details is not None else 0,
        )


class ChatBody(_Wire):
    id: str | None = None
    model: str | None = None
    choices: list[Choice] | None = None
    usage: CompletionUsage | None = None
    error: Any = None
    """An error sent with status 200 or inside the stream."""
