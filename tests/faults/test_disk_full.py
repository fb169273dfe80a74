"""Issue 16 item 1: DATA_DIR on a small tmpfs that fills during a run.

While the disk is full the run waits for space (nothing committed is lost, nothing buffered is dropped),
/health says so and /start answers 503 with the reason. Space back within STORAGE_WAIT_S: the run simply
completes. Space back later: the run has failed with the real cause, and its one terminal event is written as
soon as it can be; the SSE stream ends, and the control plane agrees.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.conftest import Server, make_server
from tests.support import read_sse, rpc, tmpfs, write_script


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    with tmpfs(tmp_path / "disk", "size=24m", "a small tmpfs") as mount:
        yield mount


def fill(mount: Path) -> Path:
    filler = mount / "filler"
    with filler.open("wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    return filler


def view(server: Server, run_id: str) -> dict:
    return rpc(server.client, server.url, "run.get", {"runId": run_id}, headers=server.auth)["result"]


def plane_status(server: Server, run_id: str) -> str:
    conn = sqlite3.connect(server.services.settings.data_dir / "control.db", timeout=5)
    try:
        return str(conn.execute("SELECT status FROM runs WHERE run_id=?", (run_id,)).fetchone()[0])
    finally:
        conn.close()


def start_slow_run(server: Server, tmp_path: Path, steps: int = 12) -> str:
    model = write_script(
        tmp_path / "slow.json",
        [
            {"tool_calls": [{"name": "clock", "arguments": {}}], "delay_ms": 150, "text": "x" * 2000}
            for _ in range(steps)
        ]
        + [{"text": "all done"}],
    )
    r = server.client.post("/start", json={"input": "slow", "model": model}, headers=server.auth)
    assert r.status_code == 202, r.text
    run_id = str(r.json()["runId"])
    deadline = time.monotonic() + 10
    while view(server, run_id)["status"] != "running":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    return run_id


def wait_storage(server: Server, ok: bool, timeout: float = 10) -> dict:
    deadline = time.monotonic() + timeout
    while (health := server.client.get("/health").json())["storage"]["ok"] is not ok:
        assert time.monotonic() < deadline, health
        time.sleep(0.05)
    return health


def wait_terminal(server: Server, run_id: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while (v := view(server, run_id))["status"] not in ("completed", "failed", "canceled"):
        assert time.monotonic() < deadline, v
        time.sleep(0.05)
    return v


def check_log(server: Server, run_id: str) -> list[dict]:
    events = rpc(
        server.client, server.url, "run.events", {"runId": run_id, "limit": 1000}, headers=server.auth
    )
    items = events["result"]["events"]
    assert [e["sequence"] for e in items] == list(range(1, len(items) + 1))
    assert sum(e["type"] in ("run.completed", "run.failed", "run.canceled") for e in items) == 1
    assert items[-1]["type"].startswith("run.") and view(server, run_id)["lastSequence"] == len(items)
    frames = read_sse(server.client, f"/runs/{run_id}/events?profile=debug", headers=server.auth, timeout=10)
    assert frames[-1]["event"] == "stream.end"
    return items


def test_space_back_within_the_wait_completes_the_run(tmp_path: Path, disk: Path) -> None:
    for server in make_server(tmp_path, data_dir=disk / "data", min_free_disk_mb=1, storage_wait_s=60):
        run_id = start_slow_run(server, tmp_path)
        filler = fill(disk)
        health = wait_storage(server, ok=False)
        assert health["status"] == "degraded" and health["storage"]["freeBytes"] < 1024 * 1024
        refused = server.client.post("/start", json={"input": "more"}, headers=server.auth)
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"] == "storage unavailable" and refused.json()["detail"]
        reply = rpc(server.client, server.url, "run.start", {"input": "more"}, headers=server.auth)
        assert reply["error"]["code"] == -32050
        time.sleep(1.0)
        assert view(server, run_id)["status"] == "running"
        filler.unlink()
        final = wait_terminal(server, run_id)
        assert (final["status"], final["output"]) == ("completed", "all done"), final
        check_log(server, run_id)
        assert wait_storage(server, ok=True)["status"] == "ok"
        assert plane_status(server, run_id) == "completed"


def test_space_back_after_the_wait_fails_the_run_with_the_cause(tmp_path: Path, disk: Path) -> None:
    for server in make_server(tmp_path, data_dir=disk / "data", min_free_disk_mb=1, storage_wait_s=1):
        run_id = start_slow_run(server, tmp_path)
        filler = fill(disk)
        wait_storage(server, ok=False)
        time.sleep(2.5)
        filler.unlink()
        final = wait_terminal(server, run_id)
        assert final["status"] == "failed", final
        assert final["error"]["kind"] == "storage_full"
        assert "database or disk is full" in final["error"]["message"]
        items = check_log(server, run_id)
        assert items[-1]["type"] == "run.failed"
        deadline = time.monotonic() + 20
        while plane_status(server, run_id) != "failed":
            assert time.monotonic() < deadline, plane_status(server, run_id)
            time.sleep(0.1)


def test_below_the_free_space_threshold_start_is_refused(tmp_path: Path, disk: Path) -> None:
    for server in make_server(tmp_path, data_dir=disk / "data", min_free_disk_mb=100):
        health = server.client.get("/health").json()
        assert health["status"] == "degraded" and not health["storage"]["ok"]
        assert "MIN_FREE_DISK_MB" in health["storage"]["reason"]
        r = server.client.post("/start", json={"input": "hi"}, headers=server.auth)
        assert r.status_code == 503 and "MIN_FREE_DISK_MB" in r.json()["detail"]
