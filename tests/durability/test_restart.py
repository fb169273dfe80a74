"""SIGTERM checkpoints and exits 0; a suspended run survives a restart and can be continued."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from control_bridge.embedded import EmbeddedControlPlane
from tests.durability.procs import ContainerProc, ControlPlaneProc


def write(tmp_path: Path, name: str, turns: list[dict]) -> str:
    path = tmp_path / name
    path.write_text(json.dumps({"turns": turns}))
    return f"scripted:{path}"


def wait_status(container: ContainerProc, run_id: str, statuses: set[str], timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        view = container.rpc("run.get", {"runId": run_id}).get("result")
        if view and view["status"] in statuses:
            return view
        time.sleep(0.05)
    raise AssertionError(f"{run_id} never reached {statuses}")


def test_sigterm_checkpoints_and_the_run_resumes(tmp_path: Path) -> None:
    plane = ControlPlaneProc(tmp_path)
    try:
        turns = [
            {"tool_calls": [{"name": "counter", "arguments": {"name": "t"}}], "delay_ms": 200}
            for _ in range(6)
        ]
        model = write(tmp_path, "s.json", [*turns, {"text": "finished"}])
        created = plane.admin("create_run", {"input": "work"})
        data_dir = tmp_path / "data"
        first = ContainerProc(data_dir, plane.url)
        assert (
            first.start(
                {"runId": created.run_id, "leaseVersion": created.lease_version, "model": model}
            ).status_code
            == 202
        )
        time.sleep(0.7)
        began = time.monotonic()
        assert first.sigterm() == 0
        assert time.monotonic() - began < 5 + 10  # SHUTDOWN_GRACE_S (5 here) plus process teardown under load
        assert plane.admin("get_run", created.run_id).status not in ("completed", "failed", "canceled")
        lease = plane.admin("bump_lease", created.run_id)
        second = ContainerProc(data_dir, plane.url)
        try:
            second.start({"runId": created.run_id, "leaseVersion": lease, "model": model})
            view = wait_status(second, created.run_id, {"completed", "failed"})
            assert view["status"] == "completed" and view["output"] == "finished"
            # run.complete lands before the terminal event is forwarded: wait for both before the kill
            deadline = time.monotonic() + 30
            while "run.completed" not in [e.type for e in plane.admin("events", created.run_id)]:
                assert time.monotonic() < deadline, "the terminal event never reached the control plane"
                time.sleep(0.1)
        finally:
            second.stop()
        assert plane.admin("tool_execution_count", "counter") == 6
        events = plane.admin("events", created.run_id)
        assert [e.sequence for e in events] == list(range(1, len(events) + 1))
        assert [e.type for e in events].count("run.completed") == 1
    finally:
        plane.stop()


def test_suspended_run_survives_a_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()

    async def register() -> None:
        plane = EmbeddedControlPlane(data_dir / "control.db")
        await plane.register_tool(
            {
                "name": "deploy",
                "requiresConfirmation": True,
                "parameters": {"type": "object", "properties": {"name": {"type": "string"}}},
            }
        )
        await plane.aclose()

    asyncio.run(register())
    model = write(
        tmp_path,
        "s.json",
        [
            {"tool_calls": [{"name": "counter", "arguments": {"name": "deploys"}}]},
            {"text": "deployed: {{last_tool_result}}"},
        ],
    )
    first = ContainerProc(data_dir)
    try:
        first.client.post(
            "/rpc",
            json={
                "jsonrpc": "2.0",
                "id": 1,
                "method": "policy.override",
                "params": {"requireConfirmation": ["counter"]},
            },
        )
        run_id = first.start({"input": "deploy it", "model": model}).json()["runId"]
        view = wait_status(first, run_id, {"suspended"})
        await_id = view["pendingAwaits"][0]["awaitId"]
        first.kill9()
    finally:
        first.stop()
    second = ContainerProc(data_dir)
    try:
        view = second.rpc("run.get", {"runId": run_id})["result"]
        assert view["status"] == "suspended" and view["pendingAwaits"][0]["awaitId"] == await_id
        answer = second.rpc(
            "run.continue",
            {"runId": run_id, "awaitId": await_id, "decision": {"approved": True, "requestedBy": "ops"}},
        )
        assert "result" in answer, answer
        view = wait_status(second, run_id, {"completed", "failed"})
        assert view["status"] == "completed" and "deployed" in view["output"]
        again = second.rpc(
            "run.continue",
            {"runId": run_id, "awaitId": await_id, "decision": {"approved": True, "requestedBy": "ops"}},
        )
        assert again["error"]["code"] == -32009
    finally:
        second.stop()
