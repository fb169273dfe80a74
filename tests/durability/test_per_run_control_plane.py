"""/start may name the run's own control plane (controlRpcBaseUrl/controlRpcToken), even on an embedded server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.durability.procs import CP_TOKEN, ControlPlaneProc
from tests.server.conftest import Server, make_server
from tests.support import write_script


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    yield from make_server(tmp_path / "container", scripts_dir=tmp_path)


def test_run_on_a_control_plane_named_by_start(
    server: Server, plane: ControlPlaneProc, tmp_path: Path
) -> None:
    created = plane.admin("create_run", {"input": "count once"})
    model = write_script(
        tmp_path / "s.json",
        [
            {"tool_calls": [{"name": "counter", "arguments": {"name": "per-run"}}]},
            {"text": "counted {{last_tool_result}}"},
        ],
    )
    response = server.client.post(
        "/start",
        json={
            "runId": created.run_id,
            "leaseVersion": created.lease_version,
            "model": model,
            "controlRpcBaseUrl": plane.url,
            "controlRpcToken": CP_TOKEN,
        },
        headers=server.auth,
    )
    assert response.status_code == 202, response.text
    deadline = time.monotonic() + 20
    while plane.admin("get_run", created.run_id).status != "completed":
        assert time.monotonic() < deadline, "the run never completed at its own control plane"
        time.sleep(0.1)
    assert plane.admin("tool_execution_count", "counter") == 1
    events = plane.admin("events", created.run_id)
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    assert events[-1].type == "run.completed"
    assert "counted" in events[-1].data["output"]
