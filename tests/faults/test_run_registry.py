"""Issue 16 item 17: memory stays bounded with the number of runs. The registry keeps at most
MAX_FINISHED_IN_MEMORY finished runs, runs that failed before they had a state included (they were kept for
ever), and runs on the default local model complete (they failed at start, `local:echo` being unparseable)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from agent.runtime import manager as manager_module
from tests.server.conftest import Server, make_server
from tests.support import rpc


def _wait_idle(server: Server) -> None:
    deadline = time.monotonic() + 60
    while server.services.manager.active:
        assert time.monotonic() < deadline
        time.sleep(0.02)


def _start(server: Server, body: dict) -> str:
    while True:
        r = server.client.post("/start", json=body, headers=server.auth)
        if r.status_code == 202:
            return str(r.json()["runId"])
        assert r.status_code == 503, r.text
        time.sleep(0.01)


def test_default_model_runs_complete(tmp_path: Path) -> None:
    for server in make_server(tmp_path):
        run_id = _start(server, {"input": "hello there"})
        _wait_idle(server)
        view = rpc(server.client, server.url, "run.get", {"runId": run_id}, headers=server.auth)["result"]
        assert view["status"] == "completed", view


def test_registry_is_bounded_with_early_failures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(manager_module, "MAX_FINISHED_IN_MEMORY", 10)
    for server in make_server(tmp_path, max_concurrent_runs=5):
        for i in range(30):
            _start(server, {"input": f"hello {i}"})
            _start(server, {"runId": f"unknown-{i}", "leaseVersion": 1})  # bootstrap fails: NotFound
        _wait_idle(server)
        _start(server, {"input": "last"})
        _wait_idle(server)
        runs = server.services.manager.runs
        assert len(runs) <= 10 + 1, len(runs)
        view = rpc(server.client, server.url, "run.get", {"runId": "unknown-0"}, headers=server.auth)[
            "result"
        ]
        assert view["status"] == "failed"  # dropped from memory, still answered from the log
