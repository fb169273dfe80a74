"""Adaptive rate limiting: an AIMD token bucket per model family, callers served first come, first served.

A request costs its estimated input tokens plus the output it is expected to produce. The bucket holds one
minute of the *effective* rate and refills continuously. A 429 halves the rate (once per congestion event:
requests admitted before the last halving do not halve it again) and honours Retry-After; each success adds
a fixed amount back, between a floor and a ceiling. A request bigger than the whole bucket is not refused:
it waits until the bucket is full and nothing else is in flight, then runs alone.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from agent.models.base import ModelClient
from agent.models.errors import ModelError, ModelRateLimited
from agent.models.settings import RateLimitSettings
from agent.models.types import MESSAGES_ADAPTER, Chunk, ModelRequest, ModelResponse, StopChunk, Usage
from agent.models.wrapper import WrapperModel

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class Permit:
    tokens: int
    admitted_at: float
    exclusive: bool
    epoch: int = 0
    """How many halvings had happened at admission: a 429 from an older epoch does not halve again."""


class AdaptiveLimiter:
    """One family's bucket. All waiting happens in `acquire`, in arrival order."""

    def __init__(
        self,
        settings: RateLimitSettings | None = None,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.settings = settings or RateLimitSettings()
        self.rate = min(self.settings.ceiling, max(self.settings.floor, self.settings.tokens_per_minute))
        self._clock = clock
        self._sleep = sleep
        self._level = self.rate
        self._updated = clock()
        self._queue = asyncio.Lock()  # asyncio.Lock wakes waiters in FIFO order: that is the fairness
        self._wake = asyncio.Event()
        self._in_flight = 0
        self._exclusive = False
        self._paused_until = 0.0
        self._mean_output = float(self.settings.expected_output_tokens)
        self.halvings = 0

    @property
    def capacity(self) -> float:
        return self.rate

    @property
    def level(self) -> float:
        self._refill()
        return self._level

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def expected_output(self) -> int:
        return max(1, int(self._mean_output))

    def _refill(self) -> None:
        now = self._clock()
        self._level = min(self.capacity, self._level + (now - self._updated) * self.rate / 60.0)
        self._updated = now

    async def _wait_for_release(self) -> None:
        self._wake.clear()
        await self._wake.wait()

    async def acquire(self, tokens: int) -> Permit:
        tokens = max(1, int(tokens))
        async with self._queue:
            while True:
                self._refill()
                now = self._clock()
                oversize = tokens > self.capacity
                if self._exclusive or (oversize and self._in_flight):
                    await self._wait_for_release()
                elif now < self._paused_until:
                    await self._sleep(self._paused_until - now)
                elif self._level + 1e-6 >= min(tokens, self.capacity):  # float dust must not stall the queue
                    self._level -= tokens  # an oversize request leaves a debt the others wait out
                    self._in_flight += 1
                    self._exclusive = oversize
                    return Permit(tokens=tokens, admitted_at=now, exclusive=oversize, epoch=self.halvings)
                else:
                    await self._sleep(
                        max(0.001, (min(tokens, self.capacity) - self._level) * 60.0 / self.rate)
                    )

    def release(self, permit: Permit, usage: Usage | None = None) -> None:
        """Returns the permit; with the real usage the estimate is corrected (refund or extra charge)."""
        self._in_flight = max(0, self._in_flight - 1)
        if permit.exclusive:
            self._exclusive = False
        actual = usage.input_tokens + usage.output_tokens if usage is not None else 0
        if usage is not None and actual:  # servers that report no usage leave the estimate standing
            self._refill()
            self._level = min(self.capacity, self._level + permit.tokens - actual)
            self._mean_output += 0.2 * (usage.output_tokens - self._mean_output)
        self._wake.set()

    def on_success(self) -> None:
        self._refill()  # tokens earned so far count at the old rate
        self.rate = min(self.settings.ceiling, self.rate + self.settings.increase)

    def on_rate_limited(self, permit: Permit | None = None, retry_after: float | None = None) -> None:
        now = self._clock()
        if permit is None or permit.epoch == self.halvings:
            self._refill()
            self.rate = max(self.settings.floor, self.rate / 2)
            self.halvings += 1
            self._level = min(self._level, self.capacity)
        if retry_after:
            self._paused_until = max(self._paused_until, now + retry_after)


_VERSION_SUFFIX = re.compile(r"(-\d{4}-\d{2}-\d{2}|-\d{8}|-latest|-preview|@[\w.-]+)$")


def model_family(provider: str, model: str) -> str:
    """`anthropic:claude-sonnet-4-5-20250929` → `anthropic:claude-sonnet-4-5`: dated snapshots share limits."""
    base = model
    while (stripped := _VERSION_SUFFIX.sub("", base)) != base:
        base = stripped
    return f"{provider}:{base or model}"


class RateLimiters:
    """The limiters of one process, one per model family. Owned by the app and passed to the factory."""

    def __init__(
        self,
        settings: RateLimitSettings | None = None,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.settings = settings or RateLimitSettings()
        self._clock = clock
        self._sleep = sleep
        self._limiters: dict[str, AdaptiveLimiter] = {}

    def for_model(self, provider: str, model: str) -> AdaptiveLimiter:
        family = model_family(provider, model)
        if family not in self._limiters:
            self._limiters[family] = AdaptiveLimiter(self.settings, clock=self._clock, sleep=self._sleep)
        return self._limiters[family]

    def families(self) -> dict[str, float]:
        """Family → current effective tokens per minute (for /metrics)."""
        return {family: limiter.rate for family, limiter in self._limiters.items()}


def estimate_tokens(request: ModelRequest, expected_output: int) -> int:
    """Input (about four bytes a token) plus the output expected, capped by max_tokens."""
    size = len(MESSAGES_ADAPTER.dump_json(request.messages))
    size += sum(len(t.name) + len(t.description) + len(str(t.parameters)) for t in request.tools)
    output = min(expected_output, request.max_tokens) if request.max_tokens else expected_output
    return size // 4 + output


class RateLimitedModel(WrapperModel):
    """Admits each call through the family's limiter and tells it how the call went (429s halve the rate).

    Named apart from `ModelRateLimited`, the error a provider raises when it is the one limiting us.
    """

    def __init__(self, inner: ModelClient, limiter: AdaptiveLimiter) -> None:
        super().__init__(inner)
        self.limiter = limiter

    def _failed(self, permit: Permit, error: ModelError) -> None:
        if isinstance(error, ModelRateLimited):
            self.limiter.on_rate_limited(permit, error.retry_after)

    async def complete(self, request: ModelRequest) -> ModelResponse:
        permit = await self.limiter.acquire(estimate_tokens(request, self.limiter.expected_output()))
        try:
            response = await self.inner.complete(request)
        except BaseException as error:
            if isinstance(error, ModelError):
                self._failed(permit, error)
            self.limiter.release(permit)
            raise
        self.limiter.on_success()
        self.limiter.release(permit, response.usage)
        return response

    async def stream(self, request: ModelRequest) -> AsyncIterator[Chunk]:
        permit = await self.limiter.acquire(estimate_tokens(request, self.limiter.expected_output()))
        released = False
        try:
            async for chunk in self.inner.stream(request):
                if isinstance(chunk, StopChunk):  # settle before handing out the last chunk
                    self.limiter.on_success()
                    self.limiter.release(permit, chunk.response.usage)
                    released = True
                yield chunk
        except ModelError as error:
            if not released:
                self._failed(permit, error)
            raise
        finally:
            if not released:
                self.limiter.release(permit)
