from __future__ import annotations

import logging
import random

import pytest

from agent.models import (
    ModelAuthError,
    ModelRateLimited,
    ModelUnavailable,
    OpenAICompatModel,
    Retrying,
    TextChunk,
)

from .conftest import API_KEY, SleepRecorder
from .helpers import collect, with_tools
from .model_server import Fault, ModelServer, Reply


def retrying(model: OpenAICompatModel, sleeps: SleepRecorder, **kw: object) -> Retrying:
    return Retrying(model, sleep=sleeps, rng=random.Random(7), **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("stream", [True, False])
async def test_429_waits_retry_after_then_succeeds(
    server: ModelServer, openai_model: OpenAICompatModel, sleeps: SleepRecorder, stream: bool
) -> None:
    server.script([Fault(429, retry_after=3), Reply(text="ok")])
    model = retrying(openai_model, sleeps)
    response = (
        (await collect(model, with_tools()))[-1].response if stream else await model.complete(with_tools())
    )  # type: ignore[union-attr]
    assert response.message.text_content == "ok"
    assert len(server.requests) == 2
    assert len(sleeps.delays) == 1 and 3 <= sleeps.delays[0] <= 3.3  # Retry-After plus a little jitter


async def test_backoff_grows_and_stops_at_max_attempts(
    server: ModelServer, openai_model: OpenAICompatModel, sleeps: SleepRecorder
) -> None:
    server.script([Fault(500)] * 10)
    model = retrying(openai_model, sleeps, max_attempts=4, base_delay=1.0, max_delay=3.0)
    with pytest.raises(ModelUnavailable):
        await model.complete(with_tools())
    assert len(server.requests) == 4 and len(sleeps.delays) == 3
    ceilings = [1.0, 2.0, 3.0]  # base * 2**n, capped by max_delay
    for delay, ceiling in zip(sleeps.delays, ceilings, strict=True):
        assert ceiling / 2 <= delay <= ceiling


async def test_recovers_within_the_limit(
    server: ModelServer, openai_model: OpenAICompatModel, sleeps: SleepRecorder
) -> None:
    server.script([Fault(500), Fault(529), Fault(503), Reply(text="finally")])
    response = await retrying(openai_model, sleeps, max_attempts=4).complete(with_tools())
    assert response.message.text_content == "finally" and len(sleeps.delays) == 3


async def test_auth_errors_are_not_retried(
    server: ModelServer, openai_model: OpenAICompatModel, sleeps: SleepRecorder
) -> None:
    server.script([Fault(401), Reply(text="never")])
    with pytest.raises(ModelAuthError):
        await retrying(openai_model, sleeps).complete(with_tools())
    assert len(server.requests) == 1 and sleeps.delays == []


async def test_too_long_retry_after_is_surfaced(
    server: ModelServer, openai_model: OpenAICompatModel, sleeps: SleepRecorder
) -> None:
    server.script([Fault(429, retry_after=600), Reply(text="never")])
    with pytest.raises(ModelRateLimited) as caught:
        await retrying(openai_model, sleeps, max_retry_after=60).complete(with_tools())
    assert caught.value.retry_after == 600 and sleeps.delays == []


async def test_quota_exhaustion_is_not_retried(
    server: ModelServer, openai_model: OpenAICompatModel, sleeps: SleepRecorder
) -> None:
    server.script([Fault(429, error_type="insufficient_quota", message="You exceeded your current quota")])
    with pytest.raises(ModelRateLimited) as caught:
        await retrying(openai_model, sleeps).complete(with_tools())
    assert not caught.value.retryable and len(server.requests) == 1


async def test_stream_failing_before_any_chunk_is_retried(
    server: ModelServer, openai_model: OpenAICompatModel, sleeps: SleepRecorder
) -> None:
    server.script([Fault(503), Reply(text="hello", cut_after=0), Reply(text="hello")])
    chunks = await collect(retrying(openai_model, sleeps), with_tools())
    assert "".join(c.text for c in chunks if isinstance(c, TextChunk)) == "hello"  # no duplicated text
    assert len(server.requests) == 3


async def test_stream_failing_after_a_chunk_is_surfaced(
    server: ModelServer, openai_model: OpenAICompatModel, sleeps: SleepRecorder
) -> None:
    server.script([Reply(text="partial answer", chunk_size=3, cut_after=3), Reply(text="second try")])
    texts: list[str] = []
    with pytest.raises(ModelUnavailable):
        async for chunk in retrying(openai_model, sleeps).stream(with_tools()):
            if isinstance(chunk, TextChunk):
                texts.append(chunk.text)
    assert texts and "second" not in "".join(texts)
    assert len(server.requests) == 1 and sleeps.delays == []


async def test_retry_logs_never_contain_the_key(
    server: ModelServer,
    openai_model: OpenAICompatModel,
    sleeps: SleepRecorder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server.script([Fault(500), Reply(text="ok")])
    with caplog.at_level(logging.DEBUG):
        await retrying(openai_model, sleeps).complete(with_tools())
    assert "retry 1/3" in caplog.text and API_KEY not in caplog.text


def test_max_attempts_must_be_positive(openai_model: OpenAICompatModel) -> None:
    with pytest.raises(ValueError):
        Retrying(openai_model, max_attempts=0)
