"""The container with MCP servers on its embedded control plane: a scripted run calls the real time server,
/health names failed servers, run.cancel interrupts a long MCP call, progress becomes events; and the
container's own /mcp endpoint driven by the official MCP client."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import httpx2
import mcp_types as mt
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from control_bridge.mcp import parse_config
from tests.server.conftest import TOKEN, Server, make_server
from tests.support import read_sse, write_script


def rpc(server: Server, method: str, params: dict[str, Any]) -> Any:
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    answer = server.client.post("/rpc", json=body, headers=server.auth).json()
    assert "result" in answer, answer
    return answer["result"]


def events_of(server: Server, run_id: str) -> list[dict[str, Any]]:
    return [
        e["data"]
        for e in read_sse(server.client, f"/runs/{run_id}/events?profile=debug", headers=server.auth)[:-1]
    ]


def start(server: Server, body: dict[str, Any]) -> str:
    response = server.client.post("/start", json=body, headers=server.auth)
    assert response.status_code == 202, response.text
    return str(response.json()["runId"])


@pytest.fixture
def mcp_server(tmp_path: Path, time_server: dict[str, Any], everything_js: Path) -> Iterator[Server]:
    config = parse_config(
        {
            "mcpServers": {
                "time": time_server,
                "everything": {"command": "node", "args": [str(everything_js), "stdio"]},
                "broken": {"command": str(tmp_path / "no-such-server")},
            }
        },
        os.environ,
    )
    yield from make_server(tmp_path, mcp=config)


def test_scripted_run_calls_the_time_server(mcp_server: Server, tmp_path: Path) -> None:
    model = write_script(
        tmp_path / "tokyo.json",
        [
            {
                "tool_calls": [
                    {"name": "mcp__time__get_current_time", "arguments": {"timezone": "Asia/Tokyo"}}
                ]
            },
            {"text": "In Tokyo: {{last_tool_result}}"},
        ],
    )
    run_id = start(mcp_server, {"input": "what time is it in Tokyo?", "model": model})
    events = events_of(mcp_server, run_id)
    scheduled = [e["data"] for e in events if e["type"] == "tool.scheduled"]
    results = [e["data"] for e in events if e["type"] == "tool.result"]
    assert scheduled and scheduled[0]["toolName"] == "mcp__time__get_current_time"
    assert results[0]["ok"] is True
    structured = json.loads(results[0]["output"])["structuredContent"]
    assert structured["timezone"] == "Asia/Tokyo" and structured["datetime"].endswith("+09:00")
    final = events[-1]
    assert final["type"] == "run.completed"
    assert "Asia/Tokyo" in final["data"]["output"]  # the result reached the model (and its answer)


def test_health_reports_failed_servers_by_name(mcp_server: Server) -> None:
    deadline = time.monotonic() + 20
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = mcp_server.client.get("/health").json()
        servers = body.get("mcp", {}).get("servers", {})
        if (
            servers.get("time", {}).get("state") == "ready"
            and servers.get("broken", {}).get("state") == "failed"
        ):
            break
        time.sleep(0.1)
    assert body["status"] == "ok"
    assert body["mcp"]["failedServers"] == ["broken"]
    assert body["mcp"]["servers"]["time"]["tools"] == 2
    assert "No such file" in body["mcp"]["servers"]["broken"]["error"]


def test_run_cancel_interrupts_a_long_mcp_call_and_progress_is_logged(
    mcp_server: Server, tmp_path: Path
) -> None:
    model = write_script(
        tmp_path / "long.json",
        [
            {
                "tool_calls": [
                    {
                        "name": "mcp__everything__trigger-long-running-operation",
                        "arguments": {"duration": 60, "steps": 120},
                    }
                ]
            },
            {"text": "done"},
        ],
    )
    run_id = start(mcp_server, {"input": "run the long thing", "model": model})
    deadline = time.monotonic() + 30
    progress: list[dict[str, Any]] = []
    while time.monotonic() < deadline and len(progress) < 2:
        page = rpc(mcp_server, "run.events", {"runId": run_id, "limit": 1000})
        progress = [e for e in page["events"] if e["type"] == "tool.progress"]
        time.sleep(0.1)
    assert len(progress) >= 2 and progress[0]["data"]["total"] == 120
    assert progress[0]["data"]["toolName"] == "mcp__everything__trigger-long-running-operation"
    began = time.monotonic()
    rpc(mcp_server, "run.cancel", {"runId": run_id, "reason": "user_requested"})
    events = events_of(mcp_server, run_id)
    assert time.monotonic() - began < 10  # not the 60 s the tool would take
    assert events[-1]["type"] == "run.canceled"
    assert not [e for e in events if e["type"] == "tool.result"]


# --- the container's /mcp endpoint -----------------------------------------------------------------------
def _mcp_session(url: str, headers: dict[str, str], action: Any) -> Any:
    """Runs `action(client)` with the official MCP client, in a thread with its own event loop (the test
    server runs in another thread)."""
    import asyncio

    outcome: dict[str, Any] = {}

    async def main() -> None:
        async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
            async with Client(streamable_http_client(f"{url}/mcp", http_client=http), cache=None) as client:
                outcome["value"] = await action(client)

    def runner() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=runner)
    thread.start()
    thread.join(60)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


@pytest.fixture
def plain_server(tmp_path: Path) -> Iterator[Server]:
    yield from make_server(tmp_path)


def test_mcp_endpoint_lists_tools_and_searches_memory_of_an_earlier_run(
    plain_server: Server, tmp_path: Path
) -> None:
    model = write_script(tmp_path / "m.json", [{"text": "Noted: the okapi enclosure opens on Tuesday."}])
    run_id = start(plain_server, {"input": "Remember: the okapi enclosure opens on Tuesday.", "model": model})
    assert events_of(plain_server, run_id)[-1]["type"] == "run.completed"
    auth = {"Authorization": f"Bearer {TOKEN}", "X-Space-Id": "default"}

    async def listing(client: Client) -> list[mt.Tool]:
        return list((await client.list_tools()).tools)

    tools = {t.name: t for t in _mcp_session(plain_server.url, auth, listing)}
    assert {"semantic_search_memory", "graph_search_memory", "provenance_lookup", "timeline_search"} <= set(
        tools
    )
    assert {"skill_list", "skill_get", "skill_context", "skill_catalog", "skill_describe"} <= set(tools)
    assert "memory_write" not in tools  # read-only by default
    assert all(t.annotations is not None and t.annotations.read_only_hint for t in tools.values())

    async def search(client: Client) -> mt.CallToolResult:
        for _ in range(50):  # ingestion of the run's episodes is asynchronous
            result = await client.call_tool(
                "semantic_search_memory", {"query": "okapi enclosure", "mode": "keyword"}
            )
            if "okapi" in json.dumps(result.structured_content or {}):
                return result
            import asyncio

            await asyncio.sleep(0.1)
        return result

    found = _mcp_session(plain_server.url, auth, search)
    assert found.is_error is not True
    assert run_id in json.dumps(found.structured_content)

    async def other_space(client: Client) -> mt.CallToolResult:
        return await client.call_tool(
            "semantic_search_memory", {"query": "okapi enclosure", "mode": "keyword"}
        )

    elsewhere = _mcp_session(plain_server.url, {**auth, "X-Space-Id": "another"}, other_space)
    assert elsewhere.structured_content is not None and elsewhere.structured_content["hits"] == []


def test_mcp_endpoint_requires_the_token(plain_server: Server) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    headers = {"Accept": "application/json, text/event-stream"}
    assert httpx.post(f"{plain_server.url}/mcp", json=body, headers=headers).status_code == 401
    wrong = {**headers, "Authorization": "Bearer wrong-token-wrong-token"}
    assert httpx.post(f"{plain_server.url}/mcp", json=body, headers=wrong).status_code == 401
    bad_space = {**headers, "Authorization": f"Bearer {TOKEN}", "X-Space-Id": "../etc"}
    assert httpx.post(f"{plain_server.url}/mcp", json=body, headers=bad_space).status_code == 400


def test_memory_write_over_mcp_only_when_enabled(tmp_path: Path) -> None:
    for server in make_server(tmp_path, mcp_memory_write=True):
        auth = {"Authorization": f"Bearer {TOKEN}", "X-Space-Id": "notes"}

        async def write_then_search(client: Client) -> tuple[mt.CallToolResult, mt.CallToolResult]:
            names = {t.name for t in (await client.list_tools()).tools}
            assert "memory_write" in names
            wrote = await client.call_tool(
                "memory_write", {"episodes": [{"text": "The capybara likes citrus."}]}
            )
            found = await client.call_tool(
                "semantic_search_memory", {"query": "capybara citrus", "mode": "keyword"}
            )
            return wrote, found

        wrote, found = _mcp_session(server.url, auth, write_then_search)
        assert wrote.is_error is not True and wrote.structured_content["episodeIds"]
        assert "capybara" in json.dumps(found.structured_content)


def test_a_destructive_mcp_tool_waits_for_confirmation(tmp_path: Path, crashy: dict[str, Any]) -> None:
    """crashy's tools carry no annotations: by the MCP defaults they are destructive, so the run asks first."""
    config = parse_config({"mcpServers": {"crashy": crashy}}, os.environ)
    for server in make_server(tmp_path, mcp=config):
        model = write_script(
            tmp_path / "pid.json",
            [
                {"tool_calls": [{"name": "mcp__crashy__pid", "arguments": {}}]},
                {"text": "pid {{last_tool_result}}"},
            ],
        )
        run_id = start(server, {"input": "which pid?", "model": model})
        awaits: list[dict[str, Any]] = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not awaits:
            page = rpc(server, "run.events", {"runId": run_id, "limit": 1000})
            awaits = [e["data"] for e in page["events"] if e["type"] == "await.confirmation"]
            time.sleep(0.05)
        assert awaits and awaits[0]["toolName"] == "mcp__crashy__pid"
        rpc(
            server,
            "run.continue",
            {
                "runId": run_id,
                "awaitId": awaits[0]["awaitId"],
                "decision": {"approved": True, "requestedBy": "test"},
            },
        )
        events = events_of(server, run_id)
        results = [e["data"] for e in events if e["type"] == "tool.result"]
        assert results and results[0]["ok"] is True and int(json.loads(results[0]["output"])["text"]) > 1
        assert events[-1]["type"] == "run.completed"
