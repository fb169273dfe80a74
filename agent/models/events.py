"""EventEmittingModel: streamed text, thinking and usage become run events, exactly once each.

The planner never emits these by hand. `complete()` streams underneath, so a caller that only wants the
final response still produces `assistant.delta` events (a client that cannot stream is called once, and its
response makes the same events without a stream made up from it). Deltas are emitted as the chunks pass,
before the caller sees them; usage is emitted once per call from the final (stop) chunk, never from
intermediate usage chunks, so a provider reporting usage twice is still counted once. Wrapping an
EventEmittingModel again replaces the inner one instead of stacking, and Retrying (inside) never replays a
stream once a chunk that becomes an event here has passed: `types.is_shown` names those chunks, and must
stay in step with what `stream` emits.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

from agent.events.payloads import AssistantDelta, EventData, ThinkingDelta, Usage
from agent.models.base import ModelClient
from agent.models.errors import ModelUnavailable
from agent.models.types import (
    Chunk,
    ModelRequest,
    ModelResponse,
    StopChunk,
    TextChunk,
    TextPart,
    ThinkingChunk,
    ThinkingPart,
)
from agent.models.wrapper import WrapperModel

Emit = Callable[[EventData], Awaitable[None]]


class EventEmittingModel(WrapperModel):
    """Set `turn` before each call (or pass `turn=`); events carry it."""

    def __init__(self, inner: ModelClient, emit: Emit, *, turn: int = 0) -> None:
        while isinstance(inner, EventEmittingModel):
            inner = inner.inner
        super().__init__(inner)
        self.emit = emit
        self.turn = turn

    async def stream(self, request: ModelRequest, *, turn: int | None = None) -> AsyncIterator[Chunk]:
        at = self.turn if turn is None else turn
        async for chunk in self.inner.stream(request):
            if isinstance(chunk, TextChunk):
                if chunk.text:
                    await self.emit(AssistantDelta(turn=at, text=chunk.text))
            elif isinstance(chunk, ThinkingChunk):
                if chunk.thinking:  # signature-only chunks carry nothing to show
                    await self.emit(ThinkingDelta(turn=at, thinking=chunk.thinking))
            elif isinstance(chunk, StopChunk):
                await self.emit(self._usage(chunk.response, at))
            yield chunk

    def _usage(self, response: ModelResponse, turn: int) -> Usage:
        usage = response.usage
        return Usage(
            turn=turn,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cached_input_tokens=usage.cached_input_tokens,
            model=self.name,
        )

    async def complete(self, request: ModelRequest, *, turn: int | None = None) -> ModelResponse:
        if not getattr(self.inner, "streams_natively", True):
            # Nothing streams: the same events, from the response, without a made-up stream of chunks.
            whole = await self.inner.complete(request)
            at = self.turn if turn is None else turn
            for part in whole.message.parts:
                if isinstance(part, TextPart) and part.text:
                    await self.emit(AssistantDelta(turn=at, text=part.text))
                elif isinstance(part, ThinkingPart) and part.thinking:
                    await self.emit(ThinkingDelta(turn=at, thinking=part.thinking))
            await self.emit(self._usage(whole, at))
            return whole
        response: ModelResponse | None = None
        async for chunk in self.stream(request, turn=turn):
            if isinstance(chunk, StopChunk):
                response = chunk.response
        if response is None:
            raise ModelUnavailable(
                "stream ended without a stop chunk", provider=self.provider, model=self.model
            )
        return response
