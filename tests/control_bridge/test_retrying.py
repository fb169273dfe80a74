"""The shared backoff policy (control_bridge.retrying), and the forwarder waiting by it."""

from __future__ import annotations

import asyncio
import random

import pytest

from control_bridge import contract as c
from control_bridge.errors import RateLimited, Unavailable
from control_bridge.forwarder import EventForwarder
from control_bridge.protocol import ControlPlaneBase
from control_bridge.retrying import RetryPolicy


@pytest.mark.parametrize(
    ("attempt", "ceiling"),
    [(1, 0.1), (2, 0.2), (3, 0.4), (4, 0.8), (5, 1.0), (40, 1.0), (10_000, 1.0)],
)
def test_equal_jitter_stays_between_half_and_the_ceiling(attempt: int, ceiling: float) -> None:
    policy = RetryPolicy(max_attempts=None, base_delay_s=0.1, max_delay_s=1.0)
    rng = random.Random(attempt)
    delays = [policy.delay(attempt, rng) for _ in range(200)]
    assert all(d is not None and ceiling / 2 <= d <= ceiling for d in delays)
    assert len(set(delays)) > 1  # jittered, not fixed


def test_attempts_are_bounded() -> None:
    policy = RetryPolicy(max_attempts=3)
    rng = random.Random(0)
    assert policy.delay(1, rng) is not None and policy.delay(2, rng) is not None
    assert policy.delay(3, rng) is None and policy.exhausted(3) and not policy.exhausted(2)
    assert RetryPolicy(max_attempts=None).delay(10**6, rng) is not None
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)


@pytest.mark.parametrize(
    ("policy", "retry_after", "low", "high"),
    [
        (RetryPolicy(), 2.0, 2.0, 2.0),  # exactly what the peer said
        (RetryPolicy(max_retry_after_s=30), 90.0, 30.0, 30.0),  # clamped
        (RetryPolicy(retry_after_jitter=0.1), 3.0, 3.0, 3.3),  # a little on top
        (
            RetryPolicy(max_retry_after_s=120, retry_after_jitter=0.1),
            50.0,
            50.0,
            51.0,
        ),  # that little is at most 1 s
        (RetryPolicy(base_delay_s=0.1), -1.0, 0.05, 0.1),  # nonsense: the exponential step
    ],
)
def test_retry_after_wins_over_the_exponential_step(
    policy: RetryPolicy, retry_after: float, low: float, high: float
) -> None:
    delay = policy.delay(1, random.Random(3), retry_after)
    assert delay is not None and low <= delay <= high


def test_too_long_retry_after_gives_up_when_asked() -> None:
    policy = RetryPolicy(max_retry_after_s=60, long_retry_after="give_up")
    assert policy.delay(1, random.Random(0), 600.0) is None
    assert policy.delay(1, random.Random(0), 60.0) == 60.0


class _RateLimitedOnce(ControlPlaneBase):
    def __init__(self) -> None:
        self.calls = 0

    async def call(self, method: str, params: c.WireModel) -> c.WireModel:
        assert isinstance(params, c.RunEventsAppendParams)
        self.calls += 1
        if self.calls == 1:
            raise RateLimited("slow down", retry_after=0.7)
        if self.calls == 2:
            raise Unavailable("blip")
        return c.RunEventsAppendResult(accepted=len(params.events), last_sequence=params.events[-1].sequence)


async def test_forwarder_honours_retry_after_then_backs_off() -> None:
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        await asyncio.sleep(0)

    peer = _RateLimitedOnce()
    forwarder = EventForwarder(peer, "r1", 1, retry_base_s=0.05, retry_max_s=2.0, sleep=sleep)
    await forwarder.submit(c.EventRecord(sequence=1, type="usage", data={}))
    await forwarder.flush()
    await forwarder.aclose()
    assert peer.calls == 3 and forwarder.batches_sent == 1
    assert sleeps[0] == 0.7  # the peer's Retry-After
    assert 0.05 <= sleeps[1] <= 0.1  # then the second exponential step (failure 2)
