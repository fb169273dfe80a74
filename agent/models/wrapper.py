"""WrapperModel: the base of the behaviour wrappers (Retrying, RateLimitedModel, EventEmittingModel)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from agent.models.base import ModelClient
from agent.models.types import Chunk, ModelRequest, ModelResponse


class WrapperModel:
    """Delegates everything to `inner`; subclasses override what they change."""

    def __init__(self, inner: ModelClient) -> None:
        self.inner = inner

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def provider(self) -> str:
        return str(getattr(self.inner, "provider", self.inner.name.split(":", 1)[0]))

    @property
    def model(self) -> str:
        return str(getattr(self.inner, "model", ""))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.inner!r})"

    async def complete(self, request: ModelRequest) -> ModelResponse:
        return await self.inner.complete(request)

    def stream(self, request: ModelRequest) -> AsyncIterator[Chunk]:
        return self.inner.stream(request)

    async def aclose(self) -> None:
        close = getattr(self.inner, "aclose", None)
        if close is not None:
            await close()

    def unwrap(self) -> ModelClient:
        """The innermost client (a provider)."""
        inner = self.inner
        while isinstance(inner, WrapperModel):
            inner = inner.inner
        return inner
