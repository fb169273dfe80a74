"""The ModelClient protocol and a base class that derives `complete` from `stream` (or the reverse)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Protocol, runtime_checkable

from agent.models.types import (
    Chunk,
    ModelRequest,
    ModelResponse,
    StopChunk,
    TextChunk,
    ThinkingChunk,
    ToolCallChunk,
    UsageChunk,
)


@runtime_checkable
class ModelClient(Protocol):
    """How the loop thinks. `name` is `provider:model`, shown in /health and events."""

    @property
    def name(self) -> str: ...

    async def complete(self, request: ModelRequest) -> ModelResponse: ...

    def stream(self, request: ModelRequest) -> AsyncIterator[Chunk]: ...


class BaseModelClient:
    """Implement `_complete` or `stream`; the other comes for free."""

    provider: str = "base"
    model: str = ""

    @property
    def name(self) -> str:
        return f"{self.provider}:{self.model}" if self.model else self.provider

    @property
    def streams_natively(self) -> bool:
        """False for a client that only implements `_complete`: its stream would be made up from the
        response, so callers that only want the response skip it."""
        return type(self).stream is not BaseModelClient.stream

    async def complete(self, request: ModelRequest) -> ModelResponse:
        if not self.streams_natively:
            return await self._complete(request)
        response: ModelResponse | None = None
        async for chunk in self.stream(request):
            if isinstance(chunk, StopChunk):
                response = chunk.response
        if response is None:
            raise RuntimeError(f"{self.name}: stream ended without a stop chunk")
        return response

    async def stream(self, request: ModelRequest) -> AsyncIterator[Chunk]:
        for chunk in response_chunks(await self._complete(request)):
            yield chunk

    async def _complete(self, request: ModelRequest) -> ModelResponse:
        raise NotImplementedError

    async def aclose(self) -> None:
        """Closes what the client created (not an http client it was given)."""


def response_chunks(response: ModelResponse) -> Iterator[Chunk]:
    """The chunks a stream of this whole response would have ended up giving."""
    for part in response.message.parts:
        if part.kind == "text":
            yield TextChunk(text=part.text)
        elif part.kind == "thinking":
            yield ThinkingChunk(thinking=part.thinking, signature=part.signature)
        elif part.kind == "tool_use":
            yield ToolCallChunk(part=part)
    yield UsageChunk(usage=response.usage)
    yield StopChunk(stop_reason=response.stop_reason, response=response)
