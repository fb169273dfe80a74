"""The fake server's wire shapes against the official SDKs' own types (skipped when the SDKs are absent).

Validation alone is lenient (the SDK types allow unknown keys and make most keys optional), so the tests
also check that nothing is sent that the real API does not send (no extra keys anywhere) and that the keys
the real API always sends are there.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel

from agent.models._wire import Reply, anthropic_body, anthropic_events, openai_body, openai_events

REPLY = Reply(
    text="hi", thinking="hm", tool_calls=[{"name": "calc", "arguments": {"x": 1}}], cached_input_tokens=3
)
BAD_ARGS = Reply(tool_calls=[{"name": "calc", "arguments": '{"x": '}])
"""Invalid tool JSON: what a model cut off by max_tokens leaves; the API still sends an object."""


def _data(events: list[bytes]) -> list[dict[str, Any]]:
    out = []
    for raw in events:
        data = raw.decode().split("data: ", 1)[1].strip()
        if data != "[DONE]":
            out.append(json.loads(data))
    return out


def _extras(value: Any, path: str = "") -> list[str]:
    """Every key the SDK model did not declare, anywhere inside `value`."""
    found: list[str] = []
    if isinstance(value, BaseModel):
        found += [f"{path}.{key}" for key in value.model_extra or {}]
        for name in type(value).model_fields:
            found += _extras(getattr(value, name), f"{path}.{name}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += _extras(item, f"{path}[{i}]")
    return found


@pytest.mark.parametrize("reply", [REPLY, BAD_ARGS])
def test_openai_shapes(reply: Reply) -> None:
    chat = pytest.importorskip("openai.types.chat")
    body = openai_body(reply, "gpt-x", "req_1")
    completion = chat.ChatCompletion.model_validate(body)
    assert completion.choices[0].message.tool_calls[0].function.name == "calc"
    assert _extras(completion) == []
    for chunk in _data(list(openai_events(reply, "gpt-x", "req_1", include_usage=True))):
        assert _extras(chat.ChatCompletionChunk.model_validate(chunk)) == []


def test_openai_sends_the_keys_the_real_api_sends() -> None:
    body = openai_body(REPLY, "gpt-x", "req_1")
    assert {"system_fingerprint", "service_tier", "usage"} <= body.keys()
    choice = body["choices"][0]
    assert {"logprobs", "finish_reason"} <= choice.keys()
    assert {"refusal", "annotations"} <= choice["message"].keys()
    assert "completion_tokens_details" in body["usage"] and "prompt_tokens_details" in body["usage"]
    assert "reasoning_content" not in choice["message"]  # not an OpenAI key
    chunks = _data(list(openai_events(REPLY, "gpt-x", "req_1", include_usage=True)))
    for chunk in chunks:
        assert {"system_fingerprint", "service_tier"} <= chunk.keys()
        assert all("logprobs" in c for c in chunk["choices"])
        assert all("reasoning_content" not in c["delta"] for c in chunk["choices"])
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": "", "refusal": None}
    assert all(c["usage"] is None for c in chunks[:-1]) and chunks[-1]["usage"]["completion_tokens_details"]


@pytest.mark.parametrize("key", ["reasoning_content", "reasoning"])
def test_compatible_reasoning_keys_only_when_asked_for(key: str) -> None:
    reply = Reply(text="hi", thinking="hm", reasoning_key=key)
    assert openai_body(reply, "m", "r")["choices"][0]["message"][key] == "hm"
    deltas = [
        c["choices"][0]["delta"] for c in _data(list(openai_events(reply, "m", "r", include_usage=False)))
    ]
    assert "".join(d.get(key, "") for d in deltas if d) == "hm"


@pytest.mark.parametrize("reply", [REPLY, BAD_ARGS])
def test_anthropic_shapes(reply: Reply) -> None:
    types = pytest.importorskip("anthropic.types")
    from pydantic import TypeAdapter

    message = types.Message.model_validate(anthropic_body(reply, "claude-x", "msg_1"))
    assert [b.type for b in message.content][-1] == "tool_use"
    assert isinstance(message.content[-1].input, dict)
    assert _extras(message) == []
    adapter = TypeAdapter(types.RawMessageStreamEvent)
    for event in _data(list(anthropic_events(reply, "claude-x", "msg_1"))):
        if event["type"] != "ping":
            assert _extras(adapter.validate_python(event)) == []


def test_anthropic_sends_the_keys_the_real_api_sends() -> None:
    body = anthropic_body(REPLY, "claude-x", "msg_1")
    assert {"service_tier", "cache_creation"} <= body["usage"].keys()
    assert body["usage"]["cache_creation"] == {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0}
    start = _data(list(anthropic_events(REPLY, "claude-x", "msg_1")))[0]
    assert {"service_tier", "cache_creation"} <= start["message"]["usage"].keys()
    assert anthropic_body(BAD_ARGS, "claude-x", "msg_1")["content"][0]["input"] == {}


SDK_REPLY = Reply(
    text="Let me compute.",
    thinking="two and two",
    tool_calls=[{"name": "calc", "arguments": {"expression": "2+2", "nested": {"k": [1, 2]}}}],
    input_tokens=40,
    cached_input_tokens=30,
    output_tokens=9,
    chunk_size=3,
)


async def test_official_openai_client_reads_the_fake_server_as_we_do(server: Any) -> None:
    """The SDK's own stream accumulator and ours agree on the same scripted answer, streamed and whole."""
    sdk = pytest.importorskip("openai")
    from agent.models import OpenAICompatModel, StopChunk

    from .helpers import collect, with_tools

    server.script([SDK_REPLY] * 4)
    client = sdk.AsyncOpenAI(api_key="k", base_url=server.openai_base_url)
    messages = [{"role": "user", "content": "what is 2+2?"}]
    tools = [{"type": "function", "function": {"name": "calc", "parameters": {"type": "object"}}}]
    whole = await client.chat.completions.create(model="gpt-x", messages=messages, tools=tools)
    async with client.chat.completions.stream(
        model="gpt-x", messages=messages, tools=tools, stream_options={"include_usage": True}
    ) as stream:
        streamed = await stream.get_final_completion()
    await client.close()
    ours_model = OpenAICompatModel("gpt-x", base_url=server.openai_base_url, api_key="k")
    ours_whole = await ours_model.complete(with_tools())
    ours_stop = (await collect(ours_model, with_tools()))[-1]
    await ours_model.aclose()
    assert isinstance(ours_stop, StopChunk)
    for theirs, ours in ((whole, ours_whole), (streamed, ours_stop.response)):
        message = theirs.choices[0].message
        assert message.content == ours.message.text_content == "Let me compute."
        (call,) = message.tool_calls
        assert json.loads(call.function.arguments) == ours.message.tool_uses[0].arguments
        assert call.id == ours.message.tool_uses[0].id
        assert theirs.usage.prompt_tokens == ours.usage.input_tokens == 40
        assert theirs.usage.prompt_tokens_details.cached_tokens == ours.usage.cached_input_tokens == 30
        assert theirs.usage.completion_tokens == ours.usage.output_tokens == 9
        assert theirs.choices[0].finish_reason == "tool_calls" and ours.stop_reason == "tool_use"


async def test_official_anthropic_client_reads_the_fake_server_as_we_do(server: Any) -> None:
    sdk = pytest.importorskip("anthropic")
    from agent.models import AnthropicModel, StopChunk, ThinkingPart

    from .helpers import collect, with_tools

    server.script([SDK_REPLY] * 4)
    client = sdk.AsyncAnthropic(api_key="k", base_url=server.anthropic_base_url)
    kw: dict[str, Any] = {
        "model": "claude-x",
        "max_tokens": 64,
        "messages": [{"role": "user", "content": "what is 2+2?"}],
        "tools": [{"name": "calc", "input_schema": {"type": "object"}}],
    }
    whole = await client.messages.create(**kw)
    async with client.messages.stream(**kw) as stream:
        streamed = await stream.get_final_message()
    await client.close()
    ours_model = AnthropicModel("claude-x", base_url=server.anthropic_base_url, api_key="k")
    ours_whole = await ours_model.complete(with_tools())
    ours_stop = (await collect(ours_model, with_tools()))[-1]
    await ours_model.aclose()
    assert isinstance(ours_stop, StopChunk)
    for theirs, ours in ((whole, ours_whole), (streamed, ours_stop.response)):
        thinking, text, tool = theirs.content
        assert ours.message.parts[0] == ThinkingPart(thinking=thinking.thinking, signature=thinking.signature)
        assert text.text == ours.message.text_content
        assert tool.input == ours.message.tool_uses[0].arguments and tool.id == ours.message.tool_uses[0].id
        usage = theirs.usage
        total_in = usage.input_tokens + usage.cache_read_input_tokens + usage.cache_creation_input_tokens
        assert (total_in, usage.cache_read_input_tokens, usage.output_tokens) == (
            ours.usage.input_tokens,
            ours.usage.cached_input_tokens,
            ours.usage.output_tokens,
        )
        assert usage.service_tier == "standard" and theirs.stop_reason == ours.stop_reason == "tool_use"
