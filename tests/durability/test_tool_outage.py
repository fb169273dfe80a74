"""Issue 16 item 6: a control-plane outage longer than the client's own retries does not drop tool calls.

The reference plane runs as a subprocess; it is stopped and restarted on the same port and database while a
run is calling `counter`, so the container's calls meet real refused connections.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.durability.procs import CP_TOKEN, ControlPlaneProc, wait_http
from tests.server.conftest import Server, make_server
from tests.support import write_script

CALLS = 4


def _restart(plane: ControlPlaneProc) -> None:
    plane.proc = subprocess.Popen(plane.proc.args, stderr=subprocess.PIPE)
    wait_http(f"http://127.0.0.1:{plane.port}/health", plane.proc)


def _start(server: Server, plane: ControlPlaneProc, tmp_path: Path) -> str:
    created = plane.admin("create_run", {"input": "count"})
    turns: list[dict[str, Any]] = [
        {"tool_calls": [{"name": "counter", "arguments": {"name": f"c{i}"}}], "delay_ms": 300}
        for i in range(CALLS)
    ]
    turns.append({"text": "done {{last_tool_result}}"})
    response = server.client.post(
        "/start",
        json={
            "runId": created.run_id,
            "leaseVersion": created.lease_version,
            "model": write_script(tmp_path / "s.json", turns),
            "controlRpcBaseUrl": plane.url,
            "controlRpcToken": CP_TOKEN,
        },
        headers=server.auth,
    )
    assert response.status_code == 202, response.text
    return created.run_id


def _local_events(server: Server, run_id: str) -> list[dict[str, Any]]:
    body = {"jsonrpc": "2.0", "id": 1, "method": "run.events", "params": {"runId": run_id}}
    answer = server.client.post("/rpc", json=body, headers=server.auth).json()
    return list(answer["result"]["events"])


def _wait_count(plane: ControlPlaneProc, n: int) -> None:
    deadline = time.monotonic() + 20
    while plane.admin("tool_execution_count", "counter") < n:
        assert time.monotonic() < deadline, "the run never called counter"
        time.sleep(0.05)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    yield from make_server(tmp_path / "container", scripts_dir=tmp_path)


@pytest.fixture
def short_window(tmp_path: Path) -> Iterator[Server]:
    yield from make_server(tmp_path / "container", scripts_dir=tmp_path, tool_outage_window_ms=1500)


def test_a_three_second_outage_loses_no_tool_call(
    server: Server, plane: ControlPlaneProc, tmp_path: Path
) -> None:
    run_id = _start(server, plane, tmp_path)
    _wait_count(plane, 1)
    plane.stop()  # the next call starts while the plane is down (the model waits 300 ms per turn)
    time.sleep(3)
    _restart(plane)
    deadline = time.monotonic() + 30
    while plane.admin("get_run", run_id).status != "completed":
        assert time.monotonic() < deadline, "the run never completed after the outage"
        time.sleep(0.1)
    assert plane.admin("tool_execution_count", "counter") == CALLS  # each call executed exactly once
    results = [e for e in _local_events(server, run_id) if e["type"] == "tool.result"]
    assert len(results) == CALLS
    assert all(not r["data"].get("isError", r["data"].get("is_error", False)) for r in results), results


def test_an_outage_past_the_window_tells_the_model_the_call_was_not_made(
    short_window: Server, plane: ControlPlaneProc, tmp_path: Path
) -> None:
    run_id = _start(short_window, plane, tmp_path)
    _wait_count(plane, 1)
    plane.stop()
    try:
        deadline = time.monotonic() + 30
        failed: list[dict[str, Any]] = []
        while not failed:
            assert time.monotonic() < deadline, "no tool result while the plane was down"
            events = _local_events(short_window, run_id)
            failed = [e for e in events if e["type"] == "tool.result" and "unreachable" in str(e["data"])]
            time.sleep(0.1)
        text = str(failed[0]["data"])
        assert "could not be made" in text and "uncertain" in text, text
    finally:
        _restart(plane)
