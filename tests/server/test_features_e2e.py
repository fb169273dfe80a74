"""Whole runs through the real server: each provider wire format, the skill tools, memory from a real run."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.models.fake_server import ModelServer, Reply, ToolCallReply
from agent.models.settings import ModelSettings
from tests.server.conftest import Server, make_server
from tests.support import read_sse, rpc, write_script


@pytest.fixture
def model_server() -> Iterator[ModelServer]:
    with ModelServer() as server:
        yield server


@pytest.fixture
def anthropic_server(tmp_path: Path, model_server: ModelServer) -> Iterator[Server]:
    yield from make_server(
        tmp_path,
        anthropic_api_key="test-anthropic-key",
        model_settings=ModelSettings(anthropic_base_url=model_server.anthropic_base_url, max_attempts=2),
    )


def run_to_end(server: Server, body: dict[str, Any]) -> list[dict[str, Any]]:
    response = server.client.post("/start", json=body, headers=server.auth)
    assert response.status_code == 202, response.text
    run_id = response.json()["runId"]
    return [
        e["data"]
        for e in read_sse(server.client, f"/runs/{run_id}/events?profile=debug", headers=server.auth)[:-1]
    ]


def tool_round_trip_script() -> list[Reply]:
    return [
        Reply(
            text="Let me compute.",
            tool_calls=[ToolCallReply(name="calculator", arguments={"expression": "6*7"})],
        ),
        Reply(text="It is 42."),
    ]


def assert_tool_round_trip(events: list[dict[str, Any]]) -> None:
    types = [e["type"] for e in events]
    assert types[-1] == "run.completed", types
    assert events[-1]["data"]["output"] == "It is 42."
    result = next(e["data"] for e in events if e["type"] == "tool.result")
    assert result["toolName"] == "calculator" and '"result": 42' in result["output"]
    deltas = "".join(e["data"]["text"] for e in events if e["type"] == "assistant.delta")
    assert deltas == "Let me compute.It is 42."
    usage = [e["data"] for e in events if e["type"] == "usage"]
    assert len(usage) == 2 and usage[0]["inputTokens"] == 11


def test_full_run_against_openai_wire_format(server: Server, model_server: ModelServer) -> None:
    model_server.script(tool_round_trip_script())
    events = run_to_end(server, {"input": "6*7?", "model": f"openai-compatible:fake@{model_server.url}"})
    assert_tool_round_trip(events)
    second = model_server.requests[1].body
    assert second["stream"] is True
    tool_msg = next(m for m in second["messages"] if m["role"] == "tool")
    assert '"result": 42' in tool_msg["content"]
    assert any(t["function"]["name"] == "calculator" for t in second["tools"])


def test_full_run_against_anthropic_wire_format(anthropic_server: Server, model_server: ModelServer) -> None:
    model_server.script(tool_round_trip_script())
    events = run_to_end(anthropic_server, {"input": "6*7?", "model": "anthropic:claude-test"})
    assert_tool_round_trip(events)
    first, second = (r.body for r in model_server.requests)
    assert model_server.requests[0].headers.get("x-api-key") == "test-anthropic-key"
    assert isinstance(first["system"], str | list) and first["messages"][0]["role"] == "user"
    results = [
        b
        for m in second["messages"]
        for b in (m["content"] if isinstance(m["content"], list) else [])
        if b.get("type") == "tool_result"
    ]
    assert len(results) == 1 and "42" in json.dumps(results[0])
    assert "test-anthropic-key" not in json.dumps(events), "keys never reach events"


def test_provider_failure_fails_the_run_and_never_falls_back(
    server: Server, model_server: ModelServer
) -> None:
    from agent.models.fake_server import Fault

    model_server.script([Fault(401)])
    events = run_to_end(server, {"input": "hi", "model": f"openai-compatible:fake@{model_server.url}"})
    assert events[-1]["type"] == "run.failed"
    assert events[-1]["data"]["error"]["kind"] == "auth"
    assert not any("No language model is configured" in json.dumps(e) for e in events)


def test_skill_tools_through_a_real_run(server: Server, tmp_path: Path) -> None:
    model = write_script(
        tmp_path / "skills.json",
        [
            {
                "tool_calls": [
                    {"name": "skill_list", "arguments": {}},
                    {"name": "skill_get", "arguments": {"skill_id": "research-brief"}},
                    {"name": "skill_get", "arguments": {"skill_id": "no-such-skill"}},
                    {"name": "skill_context", "arguments": {}},
                ]
            },
            {"text": "done"},
        ],
    )
    events = run_to_end(
        server, {"input": "Research the history of printing and write a brief", "model": model}
    )
    assert events[-1]["type"] == "run.completed"
    selection = next(e["data"] for e in events if e["type"] == "skill.selection")
    assert {"id": "research-brief", "source": "official"} in selection["activated"]
    results = {r["data"]["toolCallId"]: r["data"] for r in events if r["type"] == "tool.result"}
    listing, full, missing, context = (results[f"call_0_{i}"] for i in range(4))
    assert listing["ok"] and "research-brief" in listing["output"]
    assert full["ok"] and "research-brief" in full["output"] and len(full["output"]) > 500
    assert not missing["ok"] and missing["error"]["kind"] in (
        "domain_rejection",
        "invalid_call",
        "unknown_tool",
    )
    assert context["ok"] and "research-brief" in context["output"]
    rendered = next(e["data"] for e in events if e["type"] == "prompt.rendered")
    assert rendered["sections"]["skillsActive"] > 0
    assert sum(rendered["sections"].values()) == rendered["total"]


def test_memory_from_a_real_run_with_provenance(server: Server, tmp_path: Path) -> None:
    model = write_script(
        tmp_path / "m.json",
        [
            {"tool_calls": [{"name": "calculator", "arguments": {"expression": "1234*2"}}]},
            {"text": "The zebra count doubled to {{last_tool_result}}"},
        ],
    )
    events = run_to_end(server, {"input": "Our zebra herd has 1234 animals; double it.", "model": model})
    run_id = events[0]["runId"]
    session_id = events[0]["data"]["sessionId"]
    deadline = time.monotonic() + 10
    hits: list[dict[str, Any]] = []
    while time.monotonic() < deadline and len(hits) < 3:
        answer = rpc(
            server.client,
            server.url,
            "memory.search",
            {"spaceId": "default", "query": "zebra herd animals", "topK": 10, "mode": "keyword"},
            headers=server.auth,
        )
        hits = [h for h in answer["result"]["hits"] if h.get("runId") == run_id]
        time.sleep(0.1)
    kinds = {h["kind"] for h in hits}
    assert {"user_message", "assistant_message"} <= kinds or len(hits) >= 2, hits
    assert all(h["sessionId"] == session_id for h in hits)
    tool_hits = rpc(
        server.client,
        server.url,
        "memory.search",
        {"spaceId": "default", "query": "2468", "topK": 10, "mode": "keyword"},
        headers=server.auth,
    )["result"]["hits"]
    tool_hit = next(h for h in tool_hits if h.get("toolCallId"))
    assert tool_hit["toolCallId"] == "call_0_0" and tool_hit["runId"] == run_id

    # A second run finds the first run's memory through the local tool, with ids for provenance_lookup.
    model2 = write_script(
        tmp_path / "m2.json",
        [
            {
                "tool_calls": [
                    {
                        "name": "semantic_search_memory",
                        "arguments": {"query": "zebra herd", "mode": "keyword"},
                    }
                ]
            },
            {"tool_calls": [{"name": "provenance_lookup", "arguments": {"id": tool_hit["id"]}}]},
            {"text": "found: {{last_tool_result}}"},
        ],
    )
    events2 = run_to_end(server, {"input": "what do you remember about zebras?", "model": model2})
    assert events2[-1]["type"] == "run.completed"
    outputs = [e["data"] for e in events2 if e["type"] == "tool.result"]
    assert outputs[0]["ok"] and "zebra" in outputs[0]["output"].lower()
    assert outputs[1]["ok"] and run_id in outputs[1]["output"] and "call_0_0" in outputs[1]["output"]


def test_a_run_whose_model_cannot_be_built_fails_everywhere(server: Server) -> None:
    """anthropic: without a key fails before the loop: one terminal event here, run.complete at the plane."""
    events = run_to_end(server, {"input": "hi", "model": "anthropic:claude-test"})
    assert [e["type"] for e in events].count("run.failed") == 1 and events[-1]["type"] == "run.failed"
    assert "ANTHROPIC_API_KEY" in events[-1]["data"]["error"]["message"]
    from tests.server.test_runs import control_plane_view

    _, record = control_plane_view(server, events[-1]["runId"])
    assert record.status == "failed"


def test_second_run_in_a_thread_sees_the_first(server: Server, model_server: ModelServer) -> None:
    model_server.script(
        [Reply(text="Paris is the capital of France."), Reply(text="About 2.1 million people.")]
    )
    model = f"openai-compatible:fake@{model_server.url}"
    first = run_to_end(
        server, {"input": "What is the capital of France?", "model": model, "threadId": "thr-geo"}
    )
    assert first[-1]["type"] == "run.completed"
    second = run_to_end(server, {"input": "And its population?", "model": model, "threadId": "thr-geo"})
    assert second[-1]["data"]["output"] == "About 2.1 million people."
    sent = model_server.requests[1].body["messages"]
    contents = [(m["role"], m.get("content")) for m in sent if m["role"] != "system"]
    assert contents == [
        ("user", "What is the capital of France?"),
        ("assistant", "Paris is the capital of France."),
        ("user", "And its population?"),
    ]
