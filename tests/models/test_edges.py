"""Runner edges found against third-party servers (issue 16, items 19-24), each against the exact bytes.

Where the official SDK reads the same bytes, the test reads them with it too and compares.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from agent.events.payloads import EventData
from agent.models import (
    AnthropicModel,
    EventEmittingModel,
    ModelConfigError,
    ModelError,
    ModelInvalidRequest,
    ModelSettings,
    ModelUnavailable,
    OpenAICompatModel,
    Retrying,
    StopChunk,
    TextChunk,
    ToolCallChunk,
    ToolCallDeltaChunk,
    resolve_model,
)
from agent.settings import Settings

from .conftest import SleepRecorder
from .helpers import collect, with_tools
from .model_server import ModelServer, Reply

SSE = "text/event-stream"
JSON = "application/json"
Handler = Callable[[httpx.Request], httpx.Response]


def sse(*events: Any) -> str:
    """Server-Sent Events from (event name, data) pairs or bare data (dumped unless already a string)."""
    out = []
    for item in events:
        name, data = item if isinstance(item, tuple) else (None, item)
        body = data if isinstance(data, str) else json.dumps(data)
        out.append((f"event: {name}\n" if name else "") + f"data: {body}\n\n")
    return "".join(out)


class Canned:
    """An httpx transport answering every request with the same body; counts the requests."""

    def __init__(self, body: str, content_type: str, status: int = 200) -> None:
        self.body, self.content_type, self.status = body, content_type, status
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.status, text=self.body, headers={"content-type": self.content_type})

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self))


def openai(canned: Canned) -> OpenAICompatModel:
    return OpenAICompatModel("m", base_url="http://llm.test/v1", http_client=canned.client())


def anthropic(canned: Canned) -> AnthropicModel:
    return AnthropicModel("claude-x", base_url="http://llm.test", api_key="k", http_client=canned.client())


async def call(model: OpenAICompatModel | AnthropicModel, stream: bool) -> Any:
    if stream:
        return (await collect(model, with_tools()))[-1]
    return await model.complete(with_tools())


# --- 19: valid JSON that is not an object ------------------------------------------------------------
NOT_OBJECTS = ["[1, 2]", '"text"', "3", "null"]
OPENAI_BAD_NESTING = [
    {"choices": ["x"]},
    {"choices": [{"message": ["x"]}]},
    {"choices": [{"message": {"tool_calls": ["x"]}}]},
    {"choices": [{"message": {"tool_calls": [{"function": "calc"}]}}]},
    {"choices": [{"message": {"content": "hi"}}], "usage": [1]},
]
ANTHROPIC_BAD_NESTING = [
    {"type": "message", "content": ["x"]},
    {"type": "message", "content": [{"type": "text", "text": "hi"}], "usage": "lots"},
]


@pytest.mark.parametrize("body", NOT_OBJECTS + [json.dumps(b) for b in OPENAI_BAD_NESTING])
async def test_openai_body_that_is_not_a_completion_is_unavailable(body: str) -> None:
    canned = Canned(body, JSON)
    with pytest.raises(ModelUnavailable, match="not a valid"):
        await openai(canned).complete(with_tools())


@pytest.mark.parametrize("body", NOT_OBJECTS + [json.dumps(b) for b in ANTHROPIC_BAD_NESTING])
async def test_anthropic_body_that_is_not_a_message_is_unavailable(body: str) -> None:
    canned = Canned(body, JSON)
    with pytest.raises(ModelUnavailable, match="not a valid"):
        await anthropic(canned).complete(with_tools())


@pytest.mark.parametrize(
    "event",
    [
        *NOT_OBJECTS,
        json.dumps({"choices": [{"delta": "x"}]}),
        json.dumps({"choices": [{"delta": {"tool_calls": ["x"]}}]}),
        json.dumps({"choices": [], "usage": "x"}),
    ],
)
async def test_openai_stream_event_that_is_not_a_chunk_is_unavailable(event: str) -> None:
    canned = Canned(sse({"choices": [{"delta": {"content": "a"}}]}, event, "[DONE]"), SSE)
    with pytest.raises(ModelUnavailable, match="not a valid"):
        await collect(openai(canned), with_tools())


@pytest.mark.parametrize(
    "event",
    [
        *NOT_OBJECTS,
        json.dumps({"type": "message_start", "message": "x"}),
        json.dumps({"type": "content_block_start", "index": 0, "content_block": []}),
        json.dumps({"type": "content_block_delta", "index": 0, "delta": "x"}),
        json.dumps({"type": "message_delta", "delta": {}, "usage": [3]}),
    ],
)
async def test_anthropic_stream_event_that_is_not_an_event_is_unavailable(event: str) -> None:
    start = {"type": "message_start", "message": {"id": "m", "model": "c", "usage": {"input_tokens": 1}}}
    block = {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
    canned = Canned(sse(start, block, event, {"type": "message_stop"}), SSE)
    with pytest.raises(ModelUnavailable, match="not a valid"):
        await collect(anthropic(canned), with_tools())


# --- 20: OpenAI-compatible content as a list of parts -------------------------------------------------
PARTS = [{"type": "text", "text": "Hello "}, {"type": "text", "text": "world"}]


async def test_openai_content_as_a_list_of_parts_is_read() -> None:
    body = {
        "id": "r1",
        "model": "m",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": PARTS}, "finish_reason": "stop"}
        ],
    }
    response = await openai(Canned(json.dumps(body), JSON)).complete(with_tools())
    assert response.message.text_content == "Hello world" and response.stop_reason == "end_turn"


async def test_openai_streamed_content_as_a_list_of_parts_is_read() -> None:
    events = [{"choices": [{"index": 0, "delta": {"content": [part]}}]} for part in PARTS]
    events.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    chunks = await collect(openai(Canned(sse(*events, "[DONE]"), SSE)), with_tools())
    assert [c.text for c in chunks if isinstance(c, TextChunk)] == ["Hello ", "world"]
    stop = chunks[-1]
    assert isinstance(stop, StopChunk) and stop.response.message.text_content == "Hello world"


async def test_openai_refusal_is_shown_as_the_answer() -> None:
    message = {"role": "assistant", "content": None, "refusal": "I can't help with that."}
    body = {"id": "r", "choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}
    response = await openai(Canned(json.dumps(body), JSON)).complete(with_tools())
    assert response.message.text_content == "I can't help with that." and response.stop_reason == "refusal"


async def test_openai_streamed_refusal_is_shown_as_the_answer() -> None:
    events = [
        {"choices": [{"index": 0, "delta": {"role": "assistant", "content": None, "refusal": "I can't"}}]},
        {"choices": [{"index": 0, "delta": {"refusal": " help."}}]},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
    ]
    stop = (await collect(openai(Canned(sse(*events, "[DONE]"), SSE)), with_tools()))[-1]
    assert isinstance(stop, StopChunk) and stop.stop_reason == "refusal"
    assert stop.response.message.text_content == "I can't help."


@pytest.mark.parametrize(
    ("status", "error"), [(429, "ModelRateLimited"), (401, "ModelAuthError"), (503, "ModelUnavailable")]
)
@pytest.mark.parametrize("body", ['["x"]', '"no"', "7"])
async def test_error_answers_that_are_not_objects_are_classified_by_status(
    status: int, error: str, body: str
) -> None:
    for make in (openai, anthropic):
        with pytest.raises(ModelError) as caught:
            await make(Canned(body, JSON, status)).complete(with_tools())
        assert type(caught.value).__name__ == error and caught.value.status == status


# --- 21: Anthropic usage merged field by field, as the SDK does -------------------------------------
START_USAGE = {
    "input_tokens": 10,
    "cache_creation_input_tokens": 200,
    "cache_read_input_tokens": 800,
    "output_tokens": 1,
}


@pytest.mark.parametrize(
    "delta_usage",
    [
        {"input_tokens": 10, "output_tokens": 50, "cache_creation_input_tokens": None},  # read absent
        {"input_tokens": 10, "output_tokens": 50, "cache_read_input_tokens": None},
        {"output_tokens": 50},
        {"input_tokens": 12, "output_tokens": 50, "cache_read_input_tokens": 900},  # cumulative: overwrite
    ],
)
async def test_anthropic_stream_usage_merges_like_the_sdk(delta_usage: dict[str, Any]) -> None:
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-x",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": START_USAGE,
    }
    body = sse(
        ("message_start", {"type": "message_start", "message": message}),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
        (
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "hi"}},
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": delta_usage,
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    )
    stop = (await collect(anthropic(Canned(body, SSE)), with_tools()))[-1]
    assert isinstance(stop, StopChunk)
    ours = stop.response.usage
    merged = {**START_USAGE, **{k: v for k, v in delta_usage.items() if v is not None}}
    read, created = merged["cache_read_input_tokens"], merged["cache_creation_input_tokens"]
    expected = (merged["input_tokens"] + created + read, read, merged["output_tokens"])
    assert (ours.input_tokens, ours.cached_input_tokens, ours.output_tokens) == expected

    sdk = pytest.importorskip("anthropic")
    httpx2 = pytest.importorskip("httpx2")  # the SDK's own httpx fork

    def canned(request: Any) -> Any:
        return httpx2.Response(200, text=body, headers={"content-type": SSE})

    async with httpx2.AsyncClient(transport=httpx2.MockTransport(canned)) as http:
        client = sdk.AsyncAnthropic(api_key="k", base_url="http://llm.test", http_client=http)
        async with client.messages.stream(
            model="claude-x", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
        ) as stream:
            final = (await stream.get_final_message()).usage
    sdk_in = final.input_tokens + final.cache_creation_input_tokens + final.cache_read_input_tokens
    assert (ours.input_tokens, ours.cached_input_tokens, ours.output_tokens) == (
        sdk_in,
        final.cache_read_input_tokens,
        final.output_tokens,
    )


# --- 22: a cut while tool arguments stream (nothing shown yet) is retried ----------------------------
ARGS = {"expression": "(1+2)*3", "note": "a longer argument so that it streams in many pieces"}


@pytest.mark.parametrize("fmt", ["openai", "anthropic"])
async def test_cut_during_tool_arguments_is_retried_without_duplicates(
    server: ModelServer, sleeps: SleepRecorder, fmt: str
) -> None:
    call = {"name": "calc", "arguments": ARGS}
    server.script(
        [Reply(tool_calls=[call], chunk_size=3, cut_after=6), Reply(tool_calls=[call], chunk_size=3)]
    )
    inner: OpenAICompatModel | AnthropicModel = (
        OpenAICompatModel("m", base_url=server.openai_base_url)
        if fmt == "openai"
        else AnthropicModel("claude-x", base_url=server.anthropic_base_url, api_key="k")
    )
    shown: list[str] = []

    async def emit(payload: EventData) -> None:
        shown.append(payload.TYPE)

    model = EventEmittingModel(Retrying(inner, sleep=sleeps, rng=random.Random(3)), emit)
    chunks = await collect(model, with_tools())
    await inner.aclose()
    assert len(server.requests) == 2 and len(sleeps.delays) == 1
    (whole,) = [c.part for c in chunks if isinstance(c, ToolCallChunk)]
    assert whole.arguments == ARGS
    streamed = "".join(c.arguments_delta for c in chunks if isinstance(c, ToolCallDeltaChunk))
    assert json.loads(streamed) == ARGS  # the first try's pieces were not passed on: no duplicates
    assert shown == ["usage"]


async def test_cut_after_text_was_shown_is_still_surfaced(server: ModelServer, sleeps: SleepRecorder) -> None:
    server.script([Reply(text="visible", tool_calls=[{"name": "calc", "arguments": ARGS}], cut_after=6)])
    inner = OpenAICompatModel("m", base_url=server.openai_base_url)
    with pytest.raises(ModelUnavailable):
        await collect(Retrying(inner, sleep=sleeps), with_tools())
    await inner.aclose()
    assert len(server.requests) == 1 and sleeps.delays == []


# --- 23: a JSON 200 to a stream request ---------------------------------------------------------------
OPENAI_JSON = {
    "id": "r1",
    "object": "chat.completion",
    "model": "m",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "whole"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
}
ANTHROPIC_JSON = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-x",
    "content": [{"type": "text", "text": "whole"}],
    "stop_reason": "end_turn",
    "usage": {"input_tokens": 5, "output_tokens": 1},
}


@pytest.mark.parametrize(("make", "body"), [(openai, OPENAI_JSON), (anthropic, ANTHROPIC_JSON)])
async def test_json_answer_to_a_stream_request_is_read_whole(
    make: Callable[[Canned], Any], body: dict[str, Any], sleeps: SleepRecorder
) -> None:
    canned = Canned(json.dumps(body), "application/json; charset=utf-8")
    chunks = await collect(Retrying(make(canned), sleep=sleeps), with_tools())
    assert [c.text for c in chunks if isinstance(c, TextChunk)] == ["whole"]
    stop = chunks[-1]
    assert isinstance(stop, StopChunk) and stop.response.usage.output_tokens == 1
    assert len(canned.requests) == 1 and sleeps.delays == []


@pytest.mark.parametrize(
    ("make", "body"),
    [
        (openai, {"error": {"message": "bad model", "type": "invalid_request_error"}}),
        (anthropic, {"type": "error", "error": {"type": "invalid_request_error", "message": "bad model"}}),
    ],
)
async def test_json_error_answer_to_a_stream_request_is_classified(
    make: Callable[[Canned], Any], body: dict[str, Any], sleeps: SleepRecorder
) -> None:
    canned = Canned(json.dumps(body), JSON)
    with pytest.raises(ModelInvalidRequest, match="bad model"):
        await collect(Retrying(make(canned), sleep=sleeps), with_tools())
    assert len(canned.requests) == 1


async def test_stream_answer_of_another_type_is_unavailable(sleeps: SleepRecorder) -> None:
    canned = Canned("<html>gateway</html>", "text/html")
    with pytest.raises(ModelError, match="text/html"):
        await collect(openai(canned), with_tools())


# --- 24: extended thinking as a model setting ----------------------------------------------------------
async def test_thinking_budget_setting_turns_thinking_on(server: ModelServer) -> None:
    settings = ModelSettings.from_env(
        {"MODEL_THINKING_BUDGET_TOKENS": "1024", "ANTHROPIC_BASE_URL": server.anthropic_base_url}
    )
    model = resolve_model("anthropic:claude-x", keys={"anthropic": "k"}, settings=settings)
    server.script([Reply(thinking="hm", text="4"), Reply(text="4")])
    response = await model.complete(with_tools(max_tokens=4096))  # the loop never sets thinking itself
    assert response.message.parts[0].kind == "thinking"
    assert server.requests[0].body["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    plain = resolve_model(
        "anthropic:claude-x",
        keys={"anthropic": "k"},
        settings=ModelSettings(anthropic_base_url=server.anthropic_base_url),
    )
    await plain.complete(with_tools())
    assert "thinking" not in server.requests[1].body
    for closing in (model, plain):
        await closing.aclose()  # type: ignore[attr-defined]


def test_thinking_setting_comes_from_the_environment() -> None:
    settings = Settings.from_env({"MODEL": "anthropic:claude-x", "MODEL_THINKING_BUDGET_TOKENS": "2000"})
    assert settings.model_settings.thinking_budget_tokens == 2000 and settings.model_settings.thinking
    assert not Settings.from_env({}).model_settings.thinking
    with pytest.raises(ModelConfigError, match="MODEL_THINKING_BUDGET_TOKENS"):
        ModelSettings.from_env({"MODEL_THINKING_BUDGET_TOKENS": "lots"})
    with pytest.raises(ModelConfigError, match="MODEL_THINKING_BUDGET_TOKENS"):
        ModelSettings.from_env({"MODEL_THINKING_BUDGET_TOKENS": "100"})  # Anthropic's minimum is 1024
