from __future__ import annotations

import pytest

from agent.models import (
    AnthropicModel,
    ContextLengthExceeded,
    Message,
    ModelRateLimited,
    ModelRequest,
    ModelUnavailable,
    StopChunk,
    TextPart,
    ThinkingChunk,
    ThinkingPart,
    ToolCallChunk,
    ToolResultPart,
    ToolUsePart,
)
from agent.models.anthropic import to_anthropic_messages

from .conftest import API_KEY
from .helpers import collect, tool_round, with_tools
from .model_server import Fault, ModelServer, Reply

THINKING = "First I add two and two. That makes four."


@pytest.mark.parametrize("stream", [True, False])
async def test_thinking_is_kept_with_its_signature(
    server: ModelServer, anthropic_model: AnthropicModel, stream: bool
) -> None:
    server.script([Reply(thinking=THINKING, signature="EqQBCkYIARgCKkD", text="4", chunk_size=3)])
    if stream:
        chunks = await collect(anthropic_model, with_tools(thinking=True))
        assert "".join(c.thinking for c in chunks if isinstance(c, ThinkingChunk)) == THINKING
        response = chunks[-1].response  # type: ignore[union-attr]
    else:
        response = await anthropic_model.complete(with_tools(thinking=True))
    assert response.message.parts == [
        ThinkingPart(thinking=THINKING, signature="EqQBCkYIARgCKkD"),
        TextPart(text="4"),
    ]


async def test_thinking_and_redacted_thinking_go_back_unchanged(
    server: ModelServer, anthropic_model: AnthropicModel
) -> None:
    server.script(
        [
            Reply(
                thinking="t",
                redacted_thinking="opaque==",
                tool_calls=[{"name": "calc", "arguments": {"expression": "1"}}],
            ),
            Reply(text="done"),
        ]
    )
    first = (await collect(anthropic_model, with_tools(thinking=True)))[-1]
    assert isinstance(first, StopChunk)
    parts = first.response.message.parts
    assert parts[1] == ThinkingPart(thinking="opaque==", redacted=True)
    request = with_tools(thinking=True)
    tool_use = first.response.message.tool_uses[0]
    request.messages += [
        first.response.message,
        Message(role="tool", parts=[ToolResultPart(tool_use_id=tool_use.id, content="1")]),
    ]
    await anthropic_model.complete(request)
    sent = server.requests[1].body["messages"]
    assert sent[1]["content"][:3] == [
        {"type": "thinking", "thinking": "t", "signature": "sig-scripted"},
        {"type": "redacted_thinking", "data": "opaque=="},
        {"type": "tool_use", "id": "toolu_0", "name": "calc", "input": {"expression": "1"}},
    ]
    assert sent[2] == {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "toolu_0", "content": "1"}],
    }


async def test_streamed_tool_use_is_assembled(server: ModelServer, anthropic_model: AnthropicModel) -> None:
    args = {"expression": "(1+2)*3", "precision": 4, "flags": ["a", "b"]}
    server.script([Reply(text="Computing.", tool_calls=[{"name": "calc", "arguments": args}], chunk_size=2)])
    chunks = await collect(anthropic_model, with_tools())
    (call,) = [c.part for c in chunks if isinstance(c, ToolCallChunk)]
    assert call == ToolUsePart(id="toolu_0", name="calc", arguments=args)
    stop = chunks[-1]
    assert isinstance(stop, StopChunk) and stop.stop_reason == "tool_use"
    assert stop.response.message.text_content == "Computing."


async def test_invalid_streamed_json_becomes_raw_arguments(
    server: ModelServer, anthropic_model: AnthropicModel
) -> None:
    server.script([Reply(tool_calls=[{"name": "calc", "arguments": '{"expression": '}])])
    stop = (await collect(anthropic_model, with_tools()))[-1]
    assert isinstance(stop, StopChunk)
    assert stop.response.message.tool_uses[0].raw_arguments == '{"expression": '
    assert stop.response.message.tool_uses[0].arguments == {}


async def test_wire_payload(server: ModelServer, anthropic_model: AnthropicModel) -> None:
    server.script([Reply(text="4")])
    request = tool_round().model_copy(
        update={"temperature": 0.3, "tool_choice": "required", "thinking": False}
    )
    await anthropic_model.complete(request)
    recorded = server.requests[0]
    assert recorded.headers["x-api-key"] == API_KEY and recorded.headers["anthropic-version"] == "2023-06-01"
    body = recorded.body
    assert body["system"] == "be brief"
    assert body["max_tokens"] == 4096 and body["temperature"] == 0.3
    assert body["tool_choice"] == {"type": "any"}
    assert body["tools"][0]["input_schema"] == request.tools[0].parameters
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assert body["messages"][2]["content"][0]["type"] == "tool_result"


async def test_thinking_payload_drops_temperature_and_fits_budget(
    server: ModelServer, anthropic_model: AnthropicModel
) -> None:
    server.script([Reply(text="x")])
    await anthropic_model.complete(
        with_tools(thinking=True, temperature=0.5, max_tokens=1000, tool_choice="required")
    )
    body = server.requests[0].body
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert body["max_tokens"] > 2048 and "temperature" not in body
    assert body["tool_choice"] == {"type": "auto"}


def test_tool_results_open_the_merged_user_turn() -> None:
    messages = [
        Message.text("user", "go"),
        Message(role="assistant", parts=[ToolUsePart(id="t1", name="calc")]),
        Message(role="tool", parts=[ToolResultPart(tool_use_id="t1", content="1", is_error=True)]),
        Message.text("user", "and now?"),
    ]
    system, out = to_anthropic_messages(messages)
    assert system is None
    assert out[2]["content"] == [
        {"type": "tool_result", "tool_use_id": "t1", "content": "1", "is_error": True},
        {"type": "text", "text": "and now?"},
    ]


async def test_usage_counts_cached_input(server: ModelServer, anthropic_model: AnthropicModel) -> None:
    server.script([Reply(text="a", input_tokens=1000, cached_input_tokens=800, output_tokens=5)] * 2)
    streamed = (await collect(anthropic_model, with_tools()))[-1]
    completed = await anthropic_model.complete(with_tools())
    assert isinstance(streamed, StopChunk)
    for usage in (streamed.response.usage, completed.usage):
        assert (usage.input_tokens, usage.cached_input_tokens, usage.output_tokens) == (1000, 800, 5)


@pytest.mark.parametrize(
    ("fault", "error", "retryable"),
    [
        (Fault(529), ModelUnavailable, True),
        (Fault(429, retry_after=7), ModelRateLimited, True),
        (
            Fault(400, message="prompt is too long: 250000 tokens > 200000 maximum"),
            ContextLengthExceeded,
            False,
        ),
    ],
)
async def test_errors_are_classified(
    server: ModelServer, anthropic_model: AnthropicModel, fault: Fault, error: type, retryable: bool
) -> None:
    server.script([fault])
    with pytest.raises(error) as caught:
        await collect(anthropic_model, with_tools())
    assert caught.value.retryable is retryable
    assert caught.value.retry_after == fault.retry_after
    assert caught.value.request_id and caught.value.provider == "anthropic"


async def test_stream_cut_midway_is_unavailable(server: ModelServer, anthropic_model: AnthropicModel) -> None:
    server.script([Reply(text="never finished", cut_after=6, cut_clean=True)])
    with pytest.raises(ModelUnavailable, match="before it finished"):
        await collect(anthropic_model, with_tools())


async def test_transcript_is_checked_before_sending(
    server: ModelServer, anthropic_model: AnthropicModel
) -> None:
    request = ModelRequest(
        messages=[
            Message.text("user", "hi"),
            Message(role="assistant", parts=[ToolUsePart(id="x", name="calc")]),
        ],
        run_id="run-42",
    )
    from agent.models import TranscriptError

    with pytest.raises(TranscriptError, match=r"run-42.*anthropic:claude-test"):
        await anthropic_model.complete(request)
    assert server.requests == []
