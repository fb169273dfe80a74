"""kill -9 mid-run, restart on the same data directory with a higher lease: nothing lost, nothing repeated."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.durability.procs import ContainerProc, ControlPlaneProc, CountingToolServer

STEPS = 5


@pytest.fixture
def tool_server() -> Iterator[CountingToolServer]:
    server = CountingToolServer(delay_s=0.4)
    yield server
    server.close()


def script(tmp_path: Path) -> str:
    turns = [
        {"tool_calls": [{"name": "slow_effect", "arguments": {"n": i}}], "delay_ms": 150}
        for i in range(STEPS)
    ]
    turns.append({"text": "all done"})
    path = tmp_path / "crash-script.json"
    path.write_text(json.dumps({"turns": turns}))
    return f"scripted:{path}"


def wait_terminal(plane: ControlPlaneProc, run_id: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = plane.admin("get_run", run_id).status
        if status in ("completed", "failed", "canceled"):
            return str(status)
        time.sleep(0.1)
    raise AssertionError("run never finished")


TERMINAL = ("run.completed", "run.failed", "run.canceled")


def wait_terminal_event(plane: ControlPlaneProc, run_id: str, timeout: float = 30) -> None:
    """run.complete reaches the plane before the terminal event is forwarded (the plane records the answer
    first); a test that kills the container must wait for both."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(e.type in TERMINAL for e in plane.admin("events", run_id)):
            return
        time.sleep(0.1)
    raise AssertionError("the terminal event never reached the control plane")


POSITIONS: dict[str, Callable[[CountingToolServer], None]] = {
    # while the second tool call is executing at the control plane
    "during-tool-call": lambda tools: tools.wait_for(2),
    # after the third tool call answered, while the model thinks
    "between-steps": lambda tools: (tools.wait_for(3), time.sleep(0.5)),
    # right after the first call was sent
    "first-call": lambda tools: (tools.wait_for(1), time.sleep(0.05)),
}


@pytest.mark.parametrize("position", list(POSITIONS))
def test_kill_9_and_resume_with_a_higher_lease(
    tmp_path: Path, plane: ControlPlaneProc, tool_server: CountingToolServer, position: str
) -> None:
    plane.admin(
        "register_tool",
        {
            "name": "slow_effect",
            "description": "counts",
            "sideEffects": True,
            "parameters": {"type": "object", "properties": {"n": {"type": "integer"}}},
        },
        http_endpoint=tool_server.url,
    )
    created = plane.admin("create_run", {"input": "do five things"})
    run_id, lease = created.run_id, created.lease_version
    data_dir = tmp_path / "container-data"
    model = script(tmp_path)

    first = ContainerProc(data_dir, plane.url)
    try:
        assert first.start({"runId": run_id, "leaseVersion": lease, "model": model}).status_code == 202
        POSITIONS[position](tool_server)
        first.kill9()
    finally:
        first.stop()

    new_lease = plane.admin("bump_lease", run_id)
    time.sleep(0.5)  # let any call the dead container left in flight finish at the control plane
    second = ContainerProc(data_dir, plane.url)
    try:
        response = second.start({"runId": run_id, "leaseVersion": new_lease, "model": model})
        assert response.status_code == 202, response.text
        assert wait_terminal(plane, run_id) == "completed"
        view = second.rpc("run.get", {"runId": run_id})["result"]
        assert view["output"] == "all done"
        wait_terminal_event(plane, run_id)
    finally:
        second.stop()

    assert dict(tool_server.counts) == {i: 1 for i in range(STEPS)}, "every side effect exactly once"
    events = plane.admin("events", run_id)
    sequences = [e.sequence for e in events]
    assert sequences == list(range(1, len(sequences) + 1)), "no gap, no duplicate at the control plane"
    terminal = [e for e in events if e.type in TERMINAL]
    assert len(terminal) == 1 and events[-1].type == "run.completed"
    assert "run.resumed" in {e.type for e in events}
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", e.time or "") for e in events)
