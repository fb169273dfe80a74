from __future__ import annotations

import asyncio
import random

import pytest

from agent.models import (
    AdaptiveLimiter,
    ModelRateLimited,
    OpenAICompatModel,
    RateLimitedModel,
    RateLimiters,
    RateLimitSettings,
    Retrying,
    Usage,
    estimate_tokens,
    model_family,
)

from .conftest import SleepRecorder
from .helpers import collect, with_tools
from .model_server import Fault, ModelServer, Reply

SETTINGS = RateLimitSettings(tokens_per_minute=60_000, floor=6_000, ceiling=120_000, increase=1_000)


class FakeTime:
    """A clock that only moves when someone sleeps: waits are exact and instant."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.slept.append(delay)
        self.now += delay
        await asyncio.sleep(0)


def limiter(time: FakeTime, settings: RateLimitSettings = SETTINGS) -> AdaptiveLimiter:
    return AdaptiveLimiter(settings, clock=time, sleep=time.sleep)


async def test_aimd_halves_on_rate_limit_and_recovers_additively() -> None:
    time = FakeTime()
    lim = limiter(time)
    permit = await lim.acquire(100)
    lim.on_rate_limited(permit)
    assert lim.rate == 30_000
    lim.on_rate_limited(permit)  # same congestion event (admitted before the halving): no second halving
    assert lim.rate == 30_000
    later = await lim.acquire(100)
    lim.on_rate_limited(later)
    assert lim.rate == 15_000 and lim.halvings == 2
    for _ in range(5):
        lim.on_success()
    assert lim.rate == 20_000
    for _ in range(500):
        lim.on_success()
    assert lim.rate == SETTINGS.ceiling


async def test_rate_never_drops_below_the_floor() -> None:
    time = FakeTime()
    lim = limiter(time)
    for _ in range(20):
        lim.on_rate_limited()
    assert lim.rate == SETTINGS.floor


async def test_retry_after_pauses_the_bucket() -> None:
    time = FakeTime()
    lim = limiter(time)
    lim.on_rate_limited(None, retry_after=5)
    await lim.acquire(10)
    assert time.now == pytest.approx(5)


async def test_tokens_refill_at_the_effective_rate() -> None:
    time = FakeTime()
    lim = limiter(time)  # 60k tpm = 1000 tokens/s, bucket of 60k
    lim.release(await lim.acquire(60_000))
    await lim.acquire(2_000)
    assert time.now == pytest.approx(2.0, rel=1e-3)  # waited for 2000 tokens at 1000/s


async def test_callers_are_served_in_arrival_order() -> None:
    time = FakeTime()
    lim = limiter(time)
    await lim.acquire(60_000)  # empty the bucket: everyone below has to queue
    order: list[int] = []

    async def caller(i: int, cost: int) -> None:
        await lim.acquire(cost)
        order.append(i)

    # A big request first, then small ones: the small ones must not overtake it.
    tasks = [asyncio.create_task(caller(0, 30_000))]
    await asyncio.sleep(0)
    tasks += [asyncio.create_task(caller(i, 10)) for i in range(1, 6)]
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2, 3, 4, 5]


async def test_oversize_requests_run_alone_instead_of_failing() -> None:
    time = FakeTime()
    lim = limiter(time)
    small = await lim.acquire(100)
    big_task = asyncio.create_task(lim.acquire(500_000))  # far more than the 60k bucket
    for _ in range(5):
        await asyncio.sleep(0)
    assert not big_task.done()  # waits for the small one in flight
    lim.release(small, Usage(input_tokens=100))
    big = await big_task
    assert big.exclusive and lim.in_flight == 1
    after = asyncio.create_task(lim.acquire(10))
    for _ in range(5):
        await asyncio.sleep(0)
    assert not after.done()  # nothing runs beside the oversize request
    lim.release(big, Usage(input_tokens=500_000))
    await after
    assert time.now > 0  # and then the debt it left had to be repaid


async def test_actual_usage_corrects_the_estimate() -> None:
    time = FakeTime()
    lim = limiter(time)
    permit = await lim.acquire(10_000)
    assert lim.level == pytest.approx(50_000)
    lim.release(permit, Usage(input_tokens=1_000, output_tokens=500))
    assert lim.level == pytest.approx(58_500)
    assert lim.expected_output() < SETTINGS.expected_output_tokens  # learns that answers are short


def test_estimate_counts_input_and_expected_output() -> None:
    small, big = with_tools("hi"), with_tools("x" * 4000)
    assert estimate_tokens(big, 100) - estimate_tokens(small, 100) == pytest.approx(1000, abs=5)
    assert estimate_tokens(small, 100) - estimate_tokens(small, 0) == 100
    assert estimate_tokens(with_tools("hi", max_tokens=10), 500) == estimate_tokens(small, 10)


@pytest.mark.parametrize(
    ("provider", "model", "family"),
    [
        ("anthropic", "claude-sonnet-4-5-20250929", "anthropic:claude-sonnet-4-5"),
        ("openai", "gpt-4o-2024-08-06", "openai:gpt-4o"),
        ("openai", "gpt-4o-mini", "openai:gpt-4o-mini"),
        ("anthropic", "claude-3-5-haiku-latest", "anthropic:claude-3-5-haiku"),
    ],
)
def test_model_family(provider: str, model: str, family: str) -> None:
    assert model_family(provider, model) == family


async def test_limiters_are_shared_per_family() -> None:
    limiters = RateLimiters(SETTINGS)
    a = limiters.for_model("anthropic", "claude-sonnet-4-5-20250929")
    assert a is limiters.for_model("anthropic", "claude-sonnet-4-5")
    assert a is not limiters.for_model("openai", "claude-sonnet-4-5")
    assert set(limiters.families()) == {"anthropic:claude-sonnet-4-5", "openai:claude-sonnet-4-5"}


@pytest.mark.parametrize("stream", [True, False])
async def test_429_through_the_server_halves_then_success_recovers(
    server: ModelServer, openai_model: OpenAICompatModel, sleeps: SleepRecorder, stream: bool
) -> None:
    lim = AdaptiveLimiter(SETTINGS)
    model = Retrying(RateLimitedModel(openai_model, lim), sleep=sleeps, rng=random.Random(1))
    server.script(
        [Fault(429, retry_after=0.01), Fault(429, retry_after=0.01), Reply(text="ok"), Reply(text="ok")]
    )
    for _ in range(2):
        if stream:
            await collect(model, with_tools())
        else:
            await model.complete(with_tools())
    assert lim.halvings == 2
    assert lim.rate == 60_000 / 4 + 2 * SETTINGS.increase
    assert lim.in_flight == 0 and len(sleeps.delays) == 2


async def test_rate_limited_error_without_retry_releases_the_permit(
    server: ModelServer, openai_model: OpenAICompatModel
) -> None:
    lim = AdaptiveLimiter(SETTINGS)
    server.script([Fault(429)])
    with pytest.raises(ModelRateLimited):
        await RateLimitedModel(openai_model, lim).complete(with_tools())
    assert lim.in_flight == 0 and lim.rate == 30_000


async def test_cancelling_a_slow_stream_returns_its_permit(
    server: ModelServer, openai_model: OpenAICompatModel
) -> None:
    lim = AdaptiveLimiter(SETTINGS)
    model = RateLimitedModel(openai_model, lim)
    server.script([Reply(text="slow " * 50, chunk_size=1, chunk_delay=0.05)])
    started = asyncio.Event()

    async def consume() -> None:
        async for _ in model.stream(with_tools()):
            started.set()

    task = asyncio.create_task(consume())
    await started.wait()
    assert lim.in_flight == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert lim.in_flight == 0
