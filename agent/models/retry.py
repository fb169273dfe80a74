"""Retrying: exponential backoff with jitter around any ModelClient, honouring Retry-After.

Only errors classified `retryable` are retried. A stream is retried only while nothing in it was shown:
chunks nobody sees as they pass (tool-call pieces, usage) are held back until the first shown chunk (text or
thinking, which EventEmittingModel makes events of) or the end, so a cut while tool arguments stream is
retried and the caller still sees each piece once. After a shown chunk a retry would show it twice, so the
failure is surfaced instead.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable

from agent.models.base import ModelClient
from agent.models.errors import ModelError
from agent.models.types import Chunk, ModelRequest, ModelResponse, is_shown
from agent.models.wrapper import WrapperModel
from control_bridge.retrying import RetryPolicy

log = logging.getLogger("agent.models")

Sleep = Callable[[float], Awaitable[None]]


class Retrying(WrapperModel):
    def __init__(
        self,
        inner: ModelClient,
        *,
        max_attempts: int = 4,
        base_delay: float = 0.5,
        max_delay: float = 30.0,
        max_retry_after: float = 120.0,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(inner)
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.max_retry_after = max_retry_after
        self.policy = RetryPolicy(
            max_attempts=max_attempts,
            base_delay_s=base_delay,
            max_delay_s=max_delay,
            max_retry_after_s=max_retry_after,
            long_retry_after="give_up",  # a provider asking for minutes fails the call instead of holding the run
            retry_after_jitter=0.1,
        )
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.retries = 0
        """Retries made so far (for metrics and tests)."""

    def delay_for(self, attempt: int, error: ModelError) -> float | None:
        """Seconds to wait before try `attempt + 1`, or None to give up. `attempt` counts from 1."""
        if not error.retryable:
            return None
        return self.policy.delay(attempt, self._rng, error.retry_after)

    async def _wait(self, attempt: int, error: ModelError) -> None:
        delay = self.delay_for(attempt, error)
        if delay is None:
            raise error
        self.retries += 1
        log.warning(
            "model %s: %s (status %s, request %s); retry %d/%d in %.2fs",
            self.name,
            error.kind,
            error.status,
            error.request_id,
            attempt,
            self.max_attempts - 1,
            delay,
        )
        await self._sleep(delay)

    async def complete(self, request: ModelRequest) -> ModelResponse:
        attempt = 1
        while True:
            try:
                return await self.inner.complete(request)
            except ModelError as error:
                await self._wait(attempt, error)
            attempt += 1

    async def stream(self, request: ModelRequest) -> AsyncIterator[Chunk]:
        attempt = 1
        while True:
            held: list[Chunk] = []
            shown = False
            try:
                async for chunk in self.inner.stream(request):
                    if not shown:
                        if not is_shown(chunk):
                            held.append(chunk)
                            continue
                        shown = True
                        for earlier in held:
                            yield earlier
                    yield chunk
            except ModelError as error:
                if shown:
                    raise
                await self._wait(attempt, error)
            else:
                if not shown:
                    for chunk in held:
                        yield chunk
                return
            attempt += 1
