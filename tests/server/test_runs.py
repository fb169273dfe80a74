"""A real run end to end over a real socket: /start and JSON-RPC, SSE in order, Last-Event-ID resume."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from control_bridge.embedded import EmbeddedControlPlane
from tests.server.conftest import Server
from tests.support import read_sse, rpc, write_script

TOOL_SCRIPT = [
    {"tool_calls": [{"name": "calculator", "arguments": {"expression": "6*7"}}]},
    {"text": "The result is {{last_tool_result}}"},
]


def wait_status(server: Server, run_id: str, statuses: set[str], timeout: float = 20) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = rpc(server.client, server.url, "run.get", {"runId": run_id}, headers=server.auth)["result"]
        if result["status"] in statuses:
            return result
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} never reached {statuses}")


def test_health_answers(server: Server) -> None:
    body = server.client.get("/health").json()
    assert body["status"] == "ok"
    assert body["runs"] == {"active": 0, "max": 5, "available": 5}
    assert body["model"] == "local:echo"
    assert body["languageModel"] is False


def test_health_says_whether_memory_search_ranks_by_meaning(server: Server) -> None:
    for _ in range(100):  # the memory substrate opens in the background after start
        memory = server.client.get("/health").json().get("memory")
        if memory is not None:
            break
        time.sleep(0.05)
    assert memory == {"embedder": "hash-words-bigrams", "denseReady": True}


def test_run_over_start_calls_embedded_tool_and_streams_in_order(server: Server, tmp_path: Path) -> None:
    model = write_script(tmp_path / "s.json", TOOL_SCRIPT)
    response = server.client.post(
        "/start", json={"input": "what is 6*7?", "model": model}, headers=server.auth
    )
    assert response.status_code == 202, response.text
    run_id = response.json()["runId"]
    events = read_sse(server.client, f"/runs/{run_id}/events?profile=debug", headers=server.auth)
    assert events[-1]["event"] == "stream.end"
    logged = events[:-1]
    ids = [e["id"] for e in logged]
    assert ids == list(range(1, len(ids) + 1)), "debug profile must show every sequence number in order"
    types = [e["event"] for e in logged]
    assert types[0] == "run.started"
    assert types[-1] == "run.completed"
    assert sum(t in ("run.completed", "run.failed", "run.canceled") for t in types) == 1
    result = next(e for e in logged if e["event"] == "tool.result")["data"]["data"]
    assert result["toolName"] == "calculator" and result["ok"] is True and '"result": 42' in result["output"]
    assert "42" in logged[-1]["data"]["data"]["output"]
    phases = [e["data"]["data"]["to"] for e in logged if e["event"] == "phase.changed"]
    assert phases == ["prompted", "planning", "executing_tools", "planning", "synthesizing", "completed"]

    # Reconnect after event N: exactly the events after N, nothing lost, nothing repeated.
    n = 4
    again = read_sse(
        server.client,
        f"/runs/{run_id}/events?profile=debug",
        headers={**server.auth, "Last-Event-ID": str(n)},
    )
    assert [e["id"] for e in again[:-1]] == ids[n:]

    # run.complete recorded the answer. The in-process plane shares DATA_DIR with the run log, the one copy of
    # the events (served above), so none were copied to it.
    copied, record = control_plane_view(server, run_id)
    assert record.status == "completed"
    assert copied == []


def control_plane_view(server: Server, run_id: str):  # type: ignore[no-untyped-def]
    """Reads the embedded control plane's database from the test thread (a second connection, WAL)."""

    async def read():  # type: ignore[no-untyped-def]
        plane = EmbeddedControlPlane(server.services.settings.data_dir / "control.db")
        try:
            deadline = time.monotonic() + 10
            while True:
                record = await plane.get_run(run_id)
                if record.status in ("completed", "failed", "canceled") or time.monotonic() > deadline:
                    return await plane.events(run_id), record
                await asyncio.sleep(0.05)
        finally:
            await plane.aclose()

    return asyncio.run(read())


def test_run_over_jsonrpc_completes_and_pages_events(server: Server, tmp_path: Path) -> None:
    model = write_script(tmp_path / "s.json", TOOL_SCRIPT)
    started = rpc(
        server.client, server.url, "run.start", {"input": "compute", "model": model}, headers=server.auth
    )
    run_id = started["result"]["runId"]
    final = wait_status(server, run_id, {"completed", "failed"})
    assert final["status"] == "completed"
    assert "42" in final["lastAssistantMessage"]
    assert final["usage"]["toolCalls"] == 1
    page1 = rpc(
        server.client,
        server.url,
        "run.events",
        {"runId": run_id, "after": 0, "limit": 3},
        headers=server.auth,
    )["result"]
    assert [e["sequence"] for e in page1["events"]] == [1, 2, 3]
    page2 = rpc(
        server.client,
        server.url,
        "run.events",
        {"runId": run_id, "after": page1["next"], "limit": 1000},
        headers=server.auth,
    )["result"]
    assert page2["events"][0]["sequence"] == 4
    assert page2["done"] is True
    chat = rpc(
        server.client,
        server.url,
        "run.events",
        {"runId": run_id, "profile": "chat", "limit": 1000},
        headers=server.auth,
    )["result"]["events"]
    assert "policy.decision" not in {e["type"] for e in chat}
    assert chat[-1]["type"] == "run.completed"


def test_duplicate_run_id_is_acknowledged_not_run_twice(server: Server, tmp_path: Path) -> None:
    model = write_script(tmp_path / "s.json", [{"text": "done", "delay_ms": 200}])
    body = {"runId": "dup-1", "input": "hi", "model": model}
    first = server.client.post("/start", json=body, headers=server.auth)
    second = server.client.post("/start", json=body, headers=server.auth)
    assert first.status_code == second.status_code == 202
    assert second.json() == {"accepted": True, "runId": "dup-1", "duplicate": True}
    events = read_sse(server.client, "/runs/dup-1/events?profile=debug", headers=server.auth)
    assert sum(e["event"] == "run.started" for e in events) == 1


def test_metrics_count_a_finished_run(server: Server, tmp_path: Path) -> None:
    model = write_script(tmp_path / "s.json", TOOL_SCRIPT)
    run_id = server.client.post("/start", json={"input": "6*7", "model": model}, headers=server.auth).json()[
        "runId"
    ]
    read_sse(server.client, f"/runs/{run_id}/events", headers=server.auth)
    text = server.client.get("/metrics").text
    assert 'agent_runs_finished_total{status="completed"} 1.0' in text
    assert 'agent_tool_calls_total{outcome="ok",tool="calculator"} 1.0' in text
    deadline = time.monotonic() + 5  # the run's task tidies up (tools.cleanup) just after its terminal event
    while "agent_active_runs 0.0" not in text and time.monotonic() < deadline:
        time.sleep(0.02)
        text = server.client.get("/metrics").text
    assert "agent_active_runs 0.0" in text
