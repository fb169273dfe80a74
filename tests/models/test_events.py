from __future__ import annotations

import random
from typing import Any

import pytest

from agent.events.payloads import EventData
from agent.models import (
    AnthropicModel,
    EventEmittingModel,
    ModelUnavailable,
    OpenAICompatModel,
    Retrying,
    Script,
    ScriptedModel,
    TextChunk,
)

from .conftest import SleepRecorder
from .helpers import collect, with_tools
from .model_server import Fault, ModelServer, Reply


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    async def __call__(self, payload: EventData) -> None:
        self.events.append((payload.TYPE, payload.data()))

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [data for k, data in self.events if k == kind]


@pytest.fixture(params=["openai", "anthropic"])
async def provider(
    request: pytest.FixtureRequest, openai_model: OpenAICompatModel, anthropic_model: AnthropicModel
):
    return openai_model if request.param == "openai" else anthropic_model


@pytest.mark.parametrize("via", ["stream", "complete"])
async def test_deltas_and_usage_become_events_once(server: ModelServer, provider: Any, via: str) -> None:
    server.script(
        [
            Reply(
                thinking="let me see",
                text="The answer is four.",
                input_tokens=90,
                output_tokens=12,
                reasoning_key="reasoning_content",  # ignored in the Anthropic format
            )
        ]
    )
    emit = Recorder()
    model = EventEmittingModel(provider, emit, turn=3)
    if via == "stream":
        await collect(model, with_tools(thinking=True))
    else:
        response = await model.complete(with_tools(thinking=True))
        assert response.message.text_content == "The answer is four."
    deltas = emit.of("assistant.delta")
    assert len(deltas) > 1  # it really streamed underneath, even for complete()
    assert "".join(d["text"] for d in deltas) == "The answer is four."
    assert {d["turn"] for d in deltas} == {3}
    assert "".join(d["thinking"] for d in emit.of("thinking.delta")) == "let me see"
    assert emit.of("usage") == [
        {"turn": 3, "inputTokens": 90, "outputTokens": 12, "cachedInputTokens": 0, "model": provider.name}
    ]
    assert [k for k, _ in emit.events].index("usage") == len(emit.events) - 1  # usage comes last


async def test_turn_can_be_set_per_call(server: ModelServer, openai_model: OpenAICompatModel) -> None:
    server.script([Reply(text="a"), Reply(text="b")])
    emit = Recorder()
    model = EventEmittingModel(openai_model, emit)
    model.turn = 1
    await model.complete(with_tools())
    await model.complete(with_tools(), turn=2)
    assert [d["turn"] for d in emit.of("usage")] == [1, 2]


async def test_wrapping_twice_emits_once(server: ModelServer, openai_model: OpenAICompatModel) -> None:
    server.script([Reply(text="hello there")])
    emit = Recorder()
    model = EventEmittingModel(EventEmittingModel(openai_model, emit), emit)
    await model.complete(with_tools())
    assert "".join(d["text"] for d in emit.of("assistant.delta")) == "hello there"
    assert len(emit.of("usage")) == 1


async def test_retried_stream_does_not_duplicate_events(
    server: ModelServer, openai_model: OpenAICompatModel, sleeps: SleepRecorder
) -> None:
    server.script([Fault(500), Reply(text="hello", cut_after=0), Reply(text="hello world")])
    emit = Recorder()
    model = EventEmittingModel(Retrying(openai_model, sleep=sleeps, rng=random.Random(0)), emit)
    await model.complete(with_tools())
    assert "".join(d["text"] for d in emit.of("assistant.delta")) == "hello world"
    assert len(emit.of("usage")) == 1 and len(server.requests) == 3


async def test_a_stream_cut_after_text_surfaces_with_the_text_emitted_once(
    server: ModelServer, openai_model: OpenAICompatModel, sleeps: SleepRecorder
) -> None:
    server.script([Reply(text="partial answer here", chunk_size=4, cut_after=3), Reply(text="never")])
    emit = Recorder()
    model = EventEmittingModel(Retrying(openai_model, sleep=sleeps), emit)
    seen: list[str] = []
    with pytest.raises(ModelUnavailable):
        async for chunk in model.stream(with_tools()):
            if isinstance(chunk, TextChunk):
                seen.append(chunk.text)
    assert [d["text"] for d in emit.of("assistant.delta")] == seen
    assert emit.of("usage") == []


async def test_scripted_models_emit_too() -> None:
    emit = Recorder()
    model = EventEmittingModel(ScriptedModel(Script(turns=[{"text": "hi", "thinking": "hm"}])), emit)
    await model.complete(with_tools())
    assert emit.of("assistant.delta") == [{"turn": 0, "text": "hi"}]
    assert emit.of("thinking.delta") == [{"turn": 0, "thinking": "hm"}]
    assert emit.of("usage")[0]["model"] == "scripted:script"


async def test_a_model_that_cannot_stream_emits_what_its_made_up_stream_would() -> None:
    script = Script(turns=[{"text": "hi", "thinking": "hm", "tool_calls": [{"name": "t", "arguments": {}}]}])
    direct, streamed = Recorder(), Recorder()
    inner = ScriptedModel(script)
    assert inner.streams_natively is False
    response = await EventEmittingModel(inner, direct, turn=3).complete(with_tools())
    async for _ in EventEmittingModel(ScriptedModel(script), streamed, turn=3).stream(with_tools()):
        pass
    assert direct.events == streamed.events
    assert [k for k, _ in direct.events] == ["thinking.delta", "assistant.delta", "usage"]
    assert response.message.tool_uses[0].name == "t"


async def test_what_becomes_an_event_is_what_blocks_a_retry() -> None:
    """Retrying holds back exactly the chunks EventEmittingModel does not show (`is_shown`)."""
    from agent.models import ToolCallDeltaChunk, Usage, UsageChunk
    from agent.models.types import TextChunk, ThinkingChunk, is_shown

    class Replay:
        name = "replay:m"

        def __init__(self, chunk: Any) -> None:
            self.chunk = chunk

        async def complete(self, request: Any) -> Any:
            raise NotImplementedError

        async def stream(self, request: Any) -> Any:
            yield self.chunk

    for chunk in [
        TextChunk(text="a"),
        TextChunk(text=""),
        ThinkingChunk(thinking="t"),
        ThinkingChunk(thinking="", signature="sig"),
        ToolCallDeltaChunk(index=0, arguments_delta='{"x"'),
        UsageChunk(usage=Usage(input_tokens=1)),
    ]:
        emit = Recorder()
        async for _ in EventEmittingModel(Replay(chunk), emit).stream(with_tools()):
            pass
        assert bool(emit.events) == is_shown(chunk), chunk
