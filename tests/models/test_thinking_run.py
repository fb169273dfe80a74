"""Extended thinking through a whole run: MODEL_THINKING_BUDGET_TOKENS → every request thinks, and the signed
thinking block goes back with the tool result (Anthropic checks it when a tool loop continues)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.models.fake_server import ModelServer, Reply, ToolCallReply
from agent.models.settings import ModelSettings
from tests.server.conftest import Server, make_server
from tests.support import read_sse


@pytest.fixture
def model_server() -> Iterator[ModelServer]:
    with ModelServer() as server:
        yield server


@pytest.fixture
def thinking_server(tmp_path: Path, model_server: ModelServer) -> Iterator[Server]:
    settings = ModelSettings.from_env(
        {"ANTHROPIC_BASE_URL": model_server.anthropic_base_url, "MODEL_THINKING_BUDGET_TOKENS": "1024"}
    )
    yield from make_server(tmp_path, anthropic_api_key="test-key", model_settings=settings)


def test_a_run_thinks_on_every_turn_and_sends_the_signed_thinking_back(
    thinking_server: Server, model_server: ModelServer
) -> None:
    model_server.script(
        [
            Reply(
                thinking="I should use the calculator.",
                signature="sig-turn-1",
                tool_calls=[ToolCallReply(name="calculator", arguments={"expression": "6*7"})],
            ),
            Reply(thinking="It said 42.", signature="sig-turn-2", text="It is 42."),
        ]
    )
    server = thinking_server
    response = server.client.post(
        "/start", json={"input": "6*7?", "model": "anthropic:claude-test"}, headers=server.auth
    )
    assert response.status_code == 202, response.text
    run_id = response.json()["runId"]
    frames = read_sse(server.client, f"/runs/{run_id}/events?profile=debug", headers=server.auth)[:-1]
    events = [frame["data"] for frame in frames]
    assert events[-1]["type"] == "run.completed", [e["type"] for e in events]
    assert events[-1]["data"]["output"] == "It is 42."
    thoughts = "".join(e["data"]["thinking"] for e in events if e["type"] == "thinking.delta")
    assert thoughts == "I should use the calculator.It said 42."
    first, second = (r.body for r in model_server.requests)
    for body in (first, second):
        assert body["thinking"] == {"type": "enabled", "budget_tokens": 1024}
        assert "temperature" not in body and body["max_tokens"] > 1024
    assistant = next(m for m in second["messages"] if m["role"] == "assistant")
    assert assistant["content"][0] == {
        "type": "thinking",
        "thinking": "I should use the calculator.",
        "signature": "sig-turn-1",
    }
    assert assistant["content"][1]["type"] == "tool_use"
