"""Issue 16 item 17: no per-run structure outlives the registry's bound. Past MAX_FINISHED_IN_MEMORY runs,
with every run read back (`run.get`), streamed to its end over SSE, and some failing at bootstrap, the run
log's and checkpoint store's per-run caches, the run log's waiters, the memory host's session table, the
forwarders and the registry hold at most the bound (before the fix: SSE of a finished run left a waiter per
run, `run.get` cached each run's last sequence and checkpoint length for ever and grew the registry, and a
bootstrap failure left its terminal key cached)."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from agent.memoryhost import RunEvents
from agent.runtime import manager as manager_module
from tests.faults.test_run_registry import _start, _wait_idle
from tests.server.conftest import make_server
from tests.support import read_sse, rpc

CAP = 5
RUNS = 20


def test_per_run_caches_stay_within_the_registry_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(manager_module, "MAX_FINISHED_IN_MEMORY", CAP)
    for server in make_server(tmp_path, max_concurrent_runs=5):
        ids = [_start(server, {"input": f"hello {i}"}) for i in range(RUNS)]
        for i in range(RUNS // 4):
            ids.append(_start(server, {"runId": f"unknown-{i}", "leaseVersion": 1}))  # bootstrap fails
        _wait_idle(server)
        for run_id in ids:
            view = rpc(server.client, server.url, "run.get", {"runId": run_id}, headers=server.auth)
            assert view["result"]["status"] in ("completed", "failed"), view
            events = read_sse(server.client, f"/runs/{run_id}/events", headers=server.auth)
            assert events[-1]["event"] == "stream.end"
        gc.collect()
        services = server.services
        log, checkpoints = services.log, services.checkpoints
        sizes = {
            "registry": len(services.manager.runs),
            "log._next": len(log._next),
            "log._keys": len(log._keys),
            "log._fresh": len(log._fresh),
            "checkpoints._saved_len": len(checkpoints._saved_len),
            "checkpoints._fixed_saved": len(checkpoints._fixed_saved),
        }
        assert all(n <= CAP for n in sizes.values()), sizes
        assert len(log._waiters) == 0, f"no stream is open, yet {len(log._waiters)} waiters are left"
        assert len(services.forwarding.forwarders) == 0
        assert len(services.memory.events._runs) == 0


def test_memory_session_table_is_bounded() -> None:
    """A run that starts here and ends elsewhere never sends its end: the oldest are forgotten."""

    class _Event:
        def __init__(self, run_id: str) -> None:
            self.run_id, self.type, self.sequence = run_id, "run.started", 1
            self.data = {"input": "hi", "sessionId": f"s-{run_id}"}

    events = RunEvents(max_runs=3)
    for i in range(10):
        assert events.episode("default", _Event(f"r{i}")) is not None
    assert list(events._runs) == ["r7", "r8", "r9"]
