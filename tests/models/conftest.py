from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from agent.models import AnthropicModel, OpenAICompatModel
from agent.models.settings import DEFAULT_TIMEOUT

from .model_server import ModelServer

API_KEY = "sk-test-do-not-log-0123456789"


@pytest.fixture(scope="session")
def _server() -> Iterator[ModelServer]:
    with ModelServer() as server:
        yield server


@pytest.fixture
def server(_server: ModelServer) -> Iterator[ModelServer]:
    """The session's model server with an empty script and no recorded requests."""
    _server.script([])
    _server.api_key = None
    _server.default = None
    yield _server
    _server.script([])


class SleepRecorder:
    """A fake asyncio.sleep: records the delays instead of waiting (no timing in tests)."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
async def openai_model(server: ModelServer) -> AsyncIterator[OpenAICompatModel]:
    model = OpenAICompatModel("gpt-test", base_url=server.openai_base_url, api_key=API_KEY)
    yield model
    await model.aclose()


@pytest.fixture
async def anthropic_model(server: ModelServer) -> AsyncIterator[AnthropicModel]:
    model = AnthropicModel("claude-test", base_url=server.anthropic_base_url, api_key=API_KEY)
    yield model
    await model.aclose()


def short_timeout(read: float = 0.2) -> httpx.Timeout:
    return httpx.Timeout(DEFAULT_TIMEOUT.connect, read=read, write=5.0, pool=5.0)
