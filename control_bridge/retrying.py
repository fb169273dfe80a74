"""The one backoff policy: the model runner, the bridge client and the event forwarder all wait by it.

Equal jitter (half the exponential ceiling fixed, half random) keeps delays growing while spreading callers
apart; a peer's Retry-After wins over the exponential step. Only the *arithmetic* lives here: each caller
keeps its own loop, because the three retry different things (a call with the same body, a model stream only
while nothing reached the caller, a batch that may grow between attempts), and passes its own `sleep` and
`rng` so tests observe every delay without sleeping.

Why not `stamina` or `tenacity`: stamina's jitter is additive (`base·2ⁿ + U(0, j)`, not equal jitter), its
sleep cannot be injected per instance (tests switch it off globally), and it draws from the global `random`;
tenacity would serve as a loop driver, but its jitter strategies are additive or full, so the delay formula
would still be ours, and its attempt context swallows `BaseException` around our streaming `yield`.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

__all__ = ["RetryPolicy", "Sleep"]

Sleep = Callable[[float], Awaitable[None]]
"""The awaitable sleep a caller backs off with (tests pass one that records the delay)."""

_MAX_EXPONENT = 30
"""2**30 × any sane base is far past every max_delay; the cap keeps an unbounded retry count from overflowing."""


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with equal jitter, honouring a peer's Retry-After.

    Args:
        max_attempts: tries in all, the first included; None retries until success (the event forwarder,
            whose caller decides when to give up).
        base_delay_s: the ceiling of the first backoff; it doubles per failed attempt.
        max_delay_s: the largest ceiling.
        max_retry_after_s: the longest Retry-After followed.
        long_retry_after: what a longer one means: "clamp" waits `max_retry_after_s` and tries again;
            "give_up" surfaces the error at once (a model provider asking for ten minutes should fail the
            call, not hold the run).
        retry_after_jitter: a fraction of Retry-After added at random (at most 1 s), so callers told the same
            instant do not all return together; 0 waits exactly what the peer said.
    """

    max_attempts: int | None = 5
    base_delay_s: float = 0.1
    max_delay_s: float = 5.0
    max_retry_after_s: float = 30.0
    long_retry_after: Literal["clamp", "give_up"] = "clamp"
    retry_after_jitter: float = 0.0

    def __post_init__(self) -> None:
        if self.max_attempts is not None and self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    def exhausted(self, attempt: int) -> bool:
        """Whether failed attempt number `attempt` (1-based) was the last one allowed."""
        return self.max_attempts is not None and attempt >= self.max_attempts

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """The exponential step after failed attempt `attempt`: in [ceiling/2, ceiling]."""
        ceiling = min(self.max_delay_s, self.base_delay_s * 2.0 ** min(attempt - 1, _MAX_EXPONENT))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)

    def delay(self, attempt: int, rng: random.Random, retry_after: float | None = None) -> float | None:
        """Seconds to wait after failed attempt `attempt` (1-based), or None when the caller should give up
        (attempts exhausted, or a Retry-After too long under "give_up")."""
        if self.exhausted(attempt):
            return None
        if retry_after is None or retry_after < 0:
            return self.backoff(attempt, rng)
        if retry_after > self.max_retry_after_s:
            if self.long_retry_after == "give_up":
                return None
            retry_after = self.max_retry_after_s
        if self.retry_after_jitter > 0:
            retry_after += rng.uniform(0, min(1.0, self.retry_after_jitter * retry_after))
        return retry_after
