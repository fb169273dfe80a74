from __future__ import annotations

import json

import httpx
import pytest

from agent.models import (
    ModelAuthError,
    ModelInvalidRequest,
    ModelUnavailable,
    OpenAICompatModel,
    StopChunk,
    TextChunk,
    ToolCallChunk,
    ToolCallDeltaChunk,
    ToolUsePart,
)
from agent.models.openai_compat import to_openai_messages

from .conftest import API_KEY, short_timeout
from .helpers import collect, tool_round, with_tools
from .model_server import Fault, ModelServer, Reply


async def test_streamed_tool_call_deltas_are_assembled(
    server: ModelServer, openai_model: OpenAICompatModel
) -> None:
    args_a = {"expression": "2+2", "nested": {"list": [1, 2, {"deep": 'ü"quote'}]}}
    server.script(
        [
            Reply(
                text="Let me compute.",
                tool_calls=[{"name": "calc", "arguments": args_a}, {"name": "calc", "arguments": {}}],
                chunk_size=1,
            )
        ]
    )
    chunks = await collect(openai_model, with_tools())
    deltas = [c for c in chunks if isinstance(c, ToolCallDeltaChunk)]
    assert len(deltas) > len(json.dumps(args_a))  # one character at a time really was streamed
    calls = [c.part for c in chunks if isinstance(c, ToolCallChunk)]
    assert [(c.id, c.name, c.arguments) for c in calls] == [
        ("call_0", "calc", args_a),
        ("call_1", "calc", {}),
    ]
    stop = chunks[-1]
    assert isinstance(stop, StopChunk) and stop.stop_reason == "tool_use"
    assert stop.response.message.text_content == "Let me compute."
    assert stop.response.message.tool_uses == calls
    assert "".join(c.text for c in chunks if isinstance(c, TextChunk)) == "Let me compute."


@pytest.mark.parametrize("stream", [True, False])
@pytest.mark.parametrize("raw", ['{"expression": "2+', "[1, 2]", "not json at all"])
async def test_non_json_arguments_become_raw_arguments(
    server: ModelServer, openai_model: OpenAICompatModel, stream: bool, raw: str
) -> None:
    server.script([Reply(tool_calls=[{"name": "calc", "arguments": raw}])])
    if stream:
        response = (await collect(openai_model, with_tools()))[-1].response  # type: ignore[union-attr]
    else:
        response = await openai_model.complete(with_tools())
    (part,) = response.message.tool_uses
    assert part == ToolUsePart(id="call_0", name="calc", arguments={}, raw_arguments=raw)
    assert response.stop_reason == "tool_use"


async def test_complete_parses_text_usage_and_request_id(
    server: ModelServer, openai_model: OpenAICompatModel
) -> None:
    server.script([Reply(text="4", input_tokens=120, output_tokens=3, cached_input_tokens=100)])
    response = await openai_model.complete(with_tools())
    assert response.message.text_content == "4"
    assert response.stop_reason == "end_turn"
    assert (
        response.usage.input_tokens,
        response.usage.output_tokens,
        response.usage.cached_input_tokens,
    ) == (
        120,
        3,
        100,
    )
    assert response.request_id is not None and response.request_id.startswith("req_")
    assert response.provider == "openai"


@pytest.mark.parametrize("key", ["reasoning_content", "reasoning"])
async def test_stream_usage_and_reasoning(
    server: ModelServer, openai_model: OpenAICompatModel, key: str
) -> None:
    """Compatible servers put thinking in `reasoning_content` (vLLM, DeepSeek) or `reasoning` (Ollama)."""
    server.script(
        [Reply(text="ok", thinking="pondering", input_tokens=50, output_tokens=9, reasoning_key=key)]
    )
    stop = (await collect(openai_model, with_tools()))[-1]
    assert isinstance(stop, StopChunk)
    assert stop.response.usage.input_tokens == 50 and stop.response.usage.output_tokens == 9
    assert stop.response.message.parts[0].kind == "thinking"
    assert server.requests[0].body["stream_options"] == {"include_usage": True}


async def test_wire_payload(server: ModelServer, openai_model: OpenAICompatModel) -> None:
    server.script([Reply(text="done")])
    request = tool_round().model_copy(
        update={"temperature": 0.2, "max_tokens": 99, "tool_choice": "required"}
    )
    await openai_model.complete(request)
    recorded = server.requests[0]
    assert recorded.headers["authorization"] == f"Bearer {API_KEY}"
    body = recorded.body
    assert body["model"] == "gpt-test"
    assert body["tool_choice"] == "required" and body["temperature"] == 0.2
    assert body["max_completion_tokens"] == 99 and "max_tokens" not in body
    assert body["tools"][0] == {
        "type": "function",
        "function": {
            "name": "calc",
            "description": "evaluates arithmetic",
            "parameters": request.tools[0].parameters,
        },
    }
    assert [m["role"] for m in body["messages"]] == ["system", "user", "assistant", "tool"]
    call = body["messages"][2]["tool_calls"][0]
    assert call["id"] == "call_a" and json.loads(call["function"]["arguments"]) == {"expression": "2+2"}
    assert body["messages"][3] == {"role": "tool", "tool_call_id": "call_a", "content": "4"}


async def test_compatible_servers_get_max_tokens(server: ModelServer) -> None:
    model = OpenAICompatModel("llama", base_url=server.openai_base_url, provider="openai-compatible")
    server.script([Reply(text="hi")])
    await model.complete(with_tools(max_tokens=10))
    assert server.requests[0].body["max_tokens"] == 10
    assert "authorization" not in server.requests[0].headers  # no key configured, none sent
    await model.aclose()


def test_raw_arguments_are_sent_back_verbatim() -> None:
    from agent.models import Message

    messages = [Message(role="assistant", parts=[ToolUsePart(id="c", name="calc", raw_arguments="{oops")])]
    assert to_openai_messages(messages)[0]["tool_calls"][0]["function"]["arguments"] == "{oops"


@pytest.mark.parametrize(
    ("fault", "error"),
    [(Fault(401), ModelAuthError), (Fault(400), ModelInvalidRequest), (Fault(503), ModelUnavailable)],
)
async def test_errors_are_classified(
    server: ModelServer, openai_model: OpenAICompatModel, fault: Fault, error: type[Exception]
) -> None:
    server.script([fault, fault])
    with pytest.raises(error) as caught:
        await openai_model.complete(with_tools())
    assert caught.value.status == fault.status and caught.value.provider == "openai"  # type: ignore[attr-defined]
    assert caught.value.request_id  # type: ignore[attr-defined]
    with pytest.raises(error):
        await collect(openai_model, with_tools())


async def test_wrong_key_is_an_auth_error(server: ModelServer, openai_model: OpenAICompatModel) -> None:
    server.api_key = "the-right-key"
    with pytest.raises(ModelAuthError) as caught:
        await openai_model.complete(with_tools())
    assert API_KEY not in str(caught.value) and not caught.value.retryable


@pytest.mark.parametrize("clean", [True, False])
async def test_stream_cut_midway_is_unavailable(
    server: ModelServer, openai_model: OpenAICompatModel, clean: bool
) -> None:
    server.script([Reply(text="a long answer that never ends", chunk_size=2, cut_after=5, cut_clean=clean)])
    seen: list[str] = []
    with pytest.raises(ModelUnavailable) as caught:
        async for chunk in openai_model.stream(with_tools()):
            if isinstance(chunk, TextChunk):
                seen.append(chunk.text)
    assert seen  # the failure came after some text
    assert caught.value.retryable


async def test_slow_stream_times_out_as_unavailable(server: ModelServer) -> None:
    model = OpenAICompatModel("m", base_url=server.openai_base_url, timeout=short_timeout(0.05))
    server.script([Reply(text="slow text", chunk_size=1, chunk_delay=0.5)])
    with pytest.raises(ModelUnavailable, match="timed out"):
        await collect(model, with_tools())
    await model.aclose()


async def test_given_http_client_is_not_closed(server: ModelServer) -> None:
    async with httpx.AsyncClient() as client:
        model = OpenAICompatModel("m", base_url=server.openai_base_url, http_client=client)
        server.script([Reply(text="x")])
        await model.complete(with_tools())
        await model.aclose()
        assert not client.is_closed
    assert API_KEY not in repr(OpenAICompatModel("m", api_key=API_KEY, http_client=client))


async def test_a_key_echoed_by_the_server_is_redacted(
    server: ModelServer, openai_model: OpenAICompatModel
) -> None:
    server.script([Fault(401, message=f"Incorrect API key provided: {API_KEY}")])
    with pytest.raises(ModelAuthError) as caught:
        await openai_model.complete(with_tools())
    assert API_KEY not in str(caught.value) and "[redacted]" in str(caught.value)
    assert API_KEY not in repr(caught.value) and API_KEY not in str(caught.value.to_dict())


async def test_servers_that_omit_the_tool_call_index() -> None:
    """Some compatible servers send whole calls without `index`; each new id is a new call."""

    def sse(delta: dict, finish: str | None = None) -> str:
        return (
            "data: "
            + json.dumps({"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
            + "\n\n"
        )

    body = (
        sse({"tool_calls": [{"id": "a", "function": {"name": "calc", "arguments": '{"x":'}}]})
        + sse({"tool_calls": [{"function": {"arguments": " 1}"}}]})
        + sse({"tool_calls": [{"id": "b", "function": {"name": "calc", "arguments": "{}"}}]})
        + sse({}, "tool_calls")
        + "data: [DONE]\n\n"
    )

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text=body, headers={"content-type": "text/event-stream"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        model = OpenAICompatModel("m", base_url="http://llm.test/v1", http_client=client)
        stop = (await collect(model, with_tools()))[-1]
    assert isinstance(stop, StopChunk)
    assert [(p.id, p.arguments) for p in stop.response.message.tool_uses] == [("a", {"x": 1}), ("b", {})]
