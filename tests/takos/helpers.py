"""Assertions every Takos scenario shares: what the Worker saw must be what Takos's Worker accepts."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tests.takos import worker_rules as rules
from tests.takos.fake_worker import FakeTakos


def wait_for(predicate: Callable[[], object], timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} not met within {timeout}s")


def assert_events_valid(worker: FakeTakos, run_id: str, lease: int) -> list[dict[str, Any]]:
    """Sequences exactly 1..N for the lease, only Takos's types, and no terminal event from the container."""
    events = [e for e in worker.runs[run_id].events if e["lease"] == lease]
    assert [e["sequence"] for e in events] == list(range(1, len(events) + 1))
    assert all(e["type"] in rules.RUN_EVENT_TYPES for e in events)
    assert not {e["type"] for e in events} & {"completed", "error", "cancelled", "message"}
    return events


def assert_headers(worker: FakeTakos, run_id: str) -> None:
    for call in worker.calls:
        h = call.headers
        assert h["authorization"].startswith("Bearer ") and h["x-takos-run-id"] == run_id
        assert h["x-takos-executor-tier"] == "1" and h["x-takos-executor-container-id"]
        assert h["content-type"] == "application/json"
