"""The fake server's wire shapes against the official SDKs' own types (skipped when the SDKs are absent)."""

from __future__ import annotations

import json

import pytest

from agent.models._wire import Reply, anthropic_body, anthropic_events, openai_body, openai_events

REPLY = Reply(
    text="hi", thinking="hm", tool_calls=[{"name": "calc", "arguments": {"x": 1}}], cached_input_tokens=3
)


def _data(events: list[bytes]) -> list[dict]:
    out = []
    for raw in events:
        data = raw.decode().split("data: ", 1)[1].strip()
        if data != "[DONE]":
            out.append(json.loads(data))
    return out


def test_openai_shapes() -> None:
    chat = pytest.importorskip("openai.types.chat")
    completion = chat.ChatCompletion.model_validate(openai_body(REPLY, "gpt-x", "req_1"))
    assert completion.choices[0].message.tool_calls[0].function.name == "calc"
    for chunk in _data(list(openai_events(REPLY, "gpt-x", "req_1", include_usage=True))):
        chat.ChatCompletionChunk.model_validate(chunk)


def test_anthropic_shapes() -> None:
    types = pytest.importorskip("anthropic.types")
    from pydantic import TypeAdapter

    message = types.Message.model_validate(anthropic_body(REPLY, "claude-x", "msg_1"))
    assert [b.type for b in message.content] == ["thinking", "text", "tool_use"]
    adapter = TypeAdapter(types.RawMessageStreamEvent)
    for event in _data(list(anthropic_events(REPLY, "claude-x", "msg_1"))):
        if event["type"] != "ping":
            adapter.validate_python(event)
