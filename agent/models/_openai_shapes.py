"""What the client reads from Chat Completions servers, as lenient typed dicts checked by pydantic.

One shape serves the non-streamed body and each stream chunk (a choice has `message` or `delta`). Unknown
keys are dropped (every server adds its own); a value of the wrong shape (a list where an object belongs)
fails validation, which the client turns into a classified `ModelUnavailable` instead of an AttributeError.
TypedDicts rather than models: pydantic-core validates them straight from the JSON text faster than
`json.loads` alone, and this runs once per streamed chunk.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import TypeAdapter
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

from agent.models.types import Usage


class ContentPart(TypedDict, total=False):
    """Some compatible servers send `content` as a list of parts instead of a string."""

    type: str
    text: str | None


class FunctionCall(TypedDict, total=False):
    name: str | None
    arguments: str | dict[str, Any] | None
    """A JSON string per the spec; a few servers send the object itself."""


class ToolCall(TypedDict, total=False):
    index: int | None
    id: str | None
    function: FunctionCall | None


class ChatMessage(TypedDict, total=False):
    """A whole `message` or a streamed `delta`."""

    content: str | list[ContentPart] | None
    refusal: str | None
    reasoning_content: Any
    """Not OpenAI's: vLLM and DeepSeek put thinking here, Ollama and OpenRouter in `reasoning`."""
    reasoning: Any
    tool_calls: list[ToolCall] | None


class Choice(TypedDict, total=False):
    message: ChatMessage | None
    delta: ChatMessage | None
    finish_reason: str | None


class PromptTokensDetails(TypedDict, total=False):
    cached_tokens: int | None


class CompletionUsage(TypedDict, total=False):
    prompt_tokens: int | None
    completion_tokens: int | None
    prompt_tokens_details: PromptTokensDetails | None


class ChatBody(TypedDict, total=False):
    id: str | None
    model: str | None
    choices: list[Choice] | None
    usage: CompletionUsage | None
    error: Any
    """An error sent with status 200 or inside the stream."""


@cache
def chat_body() -> TypeAdapter[ChatBody]:
    """Built on first use, not at import: the server's start path imports this module."""
    return TypeAdapter(ChatBody)


def message_text(message: ChatMessage) -> str:
    content = message.get("content")
    if content is None or isinstance(content, str):
        return content or ""
    return "".join(p.get("text") or "" for p in content if p.get("type", "text") in ("text", "output_text"))


def message_thinking(message: ChatMessage) -> str:
    for value in (message.get("reasoning_content"), message.get("reasoning")):
        if isinstance(value, str) and value:
            return value
    return ""


def usage_of(raw: CompletionUsage | None) -> Usage | None:
    """None when the server reported nothing (a chunk with `usage: null` or `{}`)."""
    if not raw or (raw.get("prompt_tokens") is None and raw.get("completion_tokens") is None):
        return None
    details = raw.get("prompt_tokens_details") or {}
    return Usage(
        input_tokens=raw.get("prompt_tokens") or 0,
        output_tokens=raw.get("completion_tokens") or 0,
        cached_input_tokens=details.get("cached_tokens") or 0,
    )
