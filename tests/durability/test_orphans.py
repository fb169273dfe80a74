"""Issue 16 item 5: after kill -9 with the embedded control plane, a restarted container resumes every
unfinished run it owns, starts from its input a run the log never saw, and stays within MAX_CONCURRENT_RUNS."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path

from control_bridge.embedded import EmbeddedControlPlane
from tests.durability.procs import ContainerProc


def script(tmp_path: Path, steps: int, delay_ms: int = 200) -> str:
    turns = [
        {"tool_calls": [{"name": "counter", "arguments": {"name": "orphan"}}], "delay_ms": delay_ms}
    ] * steps
    path = tmp_path / "orphan.json"
    path.write_text(json.dumps({"turns": [*turns, {"text": "finished"}]}))
    return f"scripted:{path}"


def plane_status(data_dir: Path, run_id: str) -> str:
    conn = sqlite3.connect(data_dir / "control.db", timeout=5)
    try:
        return str(conn.execute("SELECT status FROM runs WHERE run_id=?", (run_id,)).fetchone()[0])
    finally:
        conn.close()


def wait_done(container: ContainerProc, run_id: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        view = container.rpc("run.get", {"runId": run_id}).get("result")
        if view and view["status"] in ("completed", "failed", "canceled"):
            return view
        time.sleep(0.1)
    raise AssertionError(f"{run_id} was never resumed: {container.rpc('run.get', {'runId': run_id})}")


def check_events(container: ContainerProc, run_id: str) -> None:
    page = container.rpc("run.events", {"runId": run_id, "limit": 1000})["result"]["events"]
    assert [e["sequence"] for e in page] == list(range(1, len(page) + 1))
    assert [e["type"] for e in page].count("run.completed") == 1


def test_a_run_in_flight_at_kill_9_resumes_on_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    model = script(tmp_path, steps=6)
    first = ContainerProc(data_dir)
    try:
        run_id = first.start({"input": "work", "model": model}).json()["runId"]
        deadline = time.monotonic() + 20
        while (first.rpc("run.get", {"runId": run_id})["result"].get("step") or 0) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        first.kill9()
    finally:
        first.stop()
    assert plane_status(data_dir, run_id) == "running"
    second = ContainerProc(data_dir)  # nobody calls /start again
    try:
        view = wait_done(second, run_id)
        assert (view["status"], view["output"]) == ("completed", "finished")
        check_events(second, run_id)
        assert plane_status(data_dir, run_id) == "completed"
    finally:
        second.stop()


def _orphans(data_dir: Path, count: int, model: str) -> list[str]:
    """Runs the control plane has bootstrapped (`running`) but this container's log never saw: what a
    kill -9 before the first commit leaves."""

    async def make() -> list[str]:
        plane = EmbeddedControlPlane(data_dir / "control.db")
        ids = []
        try:
            for i in range(count):
                created = await plane.create_run({"input": f"orphan {i}", "config": {"model": model}})
                await plane.call(
                    "run.bootstrap", {"runId": created.run_id, "leaseVersion": created.lease_version}
                )
                ids.append(created.run_id)
        finally:
            await plane.aclose()
        return ids

    data_dir.mkdir(parents=True, exist_ok=True)
    return asyncio.run(make())


def test_runs_the_log_never_saw_start_from_their_input_within_capacity(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    ids = _orphans(data_dir, 3, script(tmp_path, steps=2, delay_ms=150))
    assert {plane_status(data_dir, r) for r in ids} == {"running"}
    container = ContainerProc(data_dir, MAX_CONCURRENT_RUNS="1")
    try:
        peak = 0
        deadline = time.monotonic() + 60
        while not all(plane_status(data_dir, r) == "completed" for r in ids):
            assert time.monotonic() < deadline, [plane_status(data_dir, r) for r in ids]
            peak = max(peak, container.client.get("/health").json()["runs"]["active"])
            time.sleep(0.05)
        assert peak == 1
        for run_id in ids:
            view = wait_done(container, run_id)
            assert (view["status"], view["output"]) == ("completed", "finished")
            check_events(container, run_id)
    finally:
        container.stop()
