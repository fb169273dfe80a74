"""Issue 16 item 3: a `/start` with a lease the control plane never granted is refused (409) before the live
run is touched; a granted higher lease still replaces it."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from tests.server.conftest import Server, make_server
from tests.support import rpc, write_script


def _plane_run(server: Server, run_id: str) -> tuple[str, int]:
    conn = sqlite3.connect(server.services.settings.data_dir / "control.db", timeout=5)
    try:
        status, lease = conn.execute(
            "SELECT status, lease_version FROM runs WHERE run_id=?", (run_id,)
        ).fetchone()
    finally:
        conn.close()
    return status, lease


def _status(server: Server, run_id: str) -> dict:
    return rpc(server.client, server.url, "run.get", {"runId": run_id}, headers=server.auth)["result"]


def _slow_run(server: Server, tmp_path: Path) -> str:
    model = write_script(
        tmp_path / "slow.json",
        [{"tool_calls": [{"name": "clock", "arguments": {}}], "delay_ms": 300} for _ in range(4)]
        + [{"text": "done"}],
    )
    r = server.client.post("/start", json={"input": "slow", "model": model}, headers=server.auth)
    assert r.status_code == 202, r.text
    run_id = r.json()["runId"]
    deadline = time.monotonic() + 10
    while _status(server, run_id)["status"] != "running":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    return str(run_id)


def _wait_done(server: Server, run_id: str) -> dict:
    deadline = time.monotonic() + 30
    while (view := _status(server, run_id))["status"] not in ("completed", "failed", "canceled"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return view


def test_an_ungranted_lease_is_refused_and_the_run_continues(tmp_path: Path) -> None:
    for server in make_server(tmp_path):
        run_id = _slow_run(server, tmp_path)
        for lease in (2**62, 2):
            r = server.client.post(
                "/start", json={"runId": run_id, "leaseVersion": lease}, headers=server.auth
            )
            assert r.status_code == 409, r.text
            assert "not granted" in r.json()["error"]
        reply = rpc(
            server.client, server.url, "run.start", {"runId": run_id, "leaseVersion": 7}, headers=server.auth
        )
        assert reply["error"]["code"] == -32009
        assert server.services.manager.runs[run_id].live
        view = _wait_done(server, run_id)
        assert (view["status"], view["output"], view["leaseVersion"]) == ("completed", "done", 1)
        assert _plane_run(server, run_id) == ("completed", 1)
        events = rpc(
            server.client, server.url, "run.events", {"runId": run_id, "limit": 1000}, headers=server.auth
        )
        types = [e["type"] for e in events["result"]["events"]]
        assert types.count("run.completed") == 1 and "run.failed" not in types


def test_a_granted_higher_lease_still_replaces(tmp_path: Path) -> None:
    for server in make_server(tmp_path):
        run_id = _slow_run(server, tmp_path)
        conn = sqlite3.connect(server.services.settings.data_dir / "control.db", timeout=5)
        with conn:
            conn.execute("UPDATE runs SET lease_version = 2 WHERE run_id=?", (run_id,))
        conn.close()
        r = server.client.post("/start", json={"runId": run_id, "leaseVersion": 2}, headers=server.auth)
        assert r.status_code == 202 and r.json().get("replaced") is True, r.text
        view = _wait_done(server, run_id)
        assert (view["status"], view["leaseVersion"]) == ("completed", 2)
