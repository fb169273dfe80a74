"""EventForwarder: ordered, bounded batches; retries without loss, reordering or duplication."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from control_bridge import contract as c
from control_bridge.embedded import EmbeddedControlPlane
from control_bridge.errors import LeaseLost, Unavailable
from control_bridge.forwarder import EventForwarder
from control_bridge.protocol import ControlPlaneBase


class FlakyPeer(ControlPlaneBase):
    """Stores appended events like the real peer (dedup on sequence) and fails on a seeded fraction of calls,
    sometimes *after* storing (the response was lost)."""

    def __init__(self, failure_rate: float = 0.0, seed: int = 7) -> None:
        self.stored: dict[int, c.EventRecord] = {}
        self.batches: list[list[int]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.rng = random.Random(seed)
        self.failure_rate = failure_rate
        self.fatal: Exception | None = None

    async def call(self, method: str, params: c.WireModel) -> c.WireModel:
        assert method == "run.events.append" and isinstance(params, c.RunEventsAppendParams)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0)
            if self.fatal is not None:
                raise self.fatal
            roll = self.rng.random()
            if roll < self.failure_rate / 2:
                raise Unavailable("dropped before storing")
            self.batches.append([e.sequence for e in params.events])
            for event in params.events:
                self.stored.setdefault(event.sequence, event)
            if roll < self.failure_rate:
                raise Unavailable("response lost after storing")
            return c.RunEventsAppendResult(accepted=len(params.events), last_sequence=max(self.stored))
        finally:
            self.in_flight -= 1


async def _no_sleep(_s: float) -> None:
    await asyncio.sleep(0)


def _event(seq: int) -> c.EventRecord:
    return c.EventRecord(sequence=seq, type="assistant.delta", data={"text": f"t{seq}"})


async def test_batches_are_bounded_ordered_and_single_flight() -> None:
    peer = FlakyPeer()
    forwarder = EventForwarder(peer, "r1", 1, max_batch=50, max_delay_s=10.0)
    for seq in range(1, 1001):
        await forwarder.submit(_event(seq))
    await forwarder.aclose()
    assert sorted(peer.stored) == list(range(1, 1001))
    sent = [s for batch in peer.batches for s in batch]
    assert sent == list(range(1, 1001))  # in order, nothing twice when nothing failed
    assert max(len(b) for b in peer.batches) == 50
    assert peer.max_in_flight == 1


async def test_latency_bound_sends_without_flush() -> None:
    peer = FlakyPeer()
    forwarder = EventForwarder(peer, "r1", 1, max_batch=500, max_delay_s=0.01)
    await forwarder.submit(_event(1))
    await forwarder.submit(_event(2))
    for _ in range(500):  # no flush: the latency bound alone must deliver them
        if len(peer.stored) == 2:
            break
        await asyncio.sleep(0.01)
    assert sorted(peer.stored) == [1, 2] and peer.batches == [[1, 2]]
    await forwarder.aclose()


async def test_failures_are_retried_without_loss_or_reordering() -> None:
    peer = FlakyPeer(failure_rate=0.4)
    forwarder = EventForwarder(peer, "r1", 1, max_batch=7, max_delay_s=0.001, sleep=_no_sleep)
    for seq in range(1, 301):
        await forwarder.submit(_event(seq))
        if seq % 37 == 0:
            await asyncio.sleep(0)
    await forwarder.flush()
    assert sorted(peer.stored) == list(range(1, 301))
    assert all(peer.stored[s].data == {"text": f"t{s}"} for s in peer.stored)
    # every attempt starts at the oldest unacknowledged event and is contiguous and ascending
    for batch in peer.batches:
        assert batch == list(range(batch[0], batch[0] + len(batch)))
    starts = [b[0] for b in peer.batches]
    assert starts == sorted(starts)
    assert peer.max_in_flight == 1
    await forwarder.aclose()


async def test_lease_lost_stops_forwarding_and_surfaces() -> None:
    peer = FlakyPeer()
    forwarder = EventForwarder(peer, "r1", 1, max_batch=10, sleep=_no_sleep)
    await forwarder.submit(_event(1))
    await forwarder.flush()
    peer.fatal = LeaseLost("superseded")
    await forwarder.submit(_event(2))
    with pytest.raises(LeaseLost):
        await forwarder.flush()
    assert isinstance(forwarder.error, LeaseLost) and forwarder.pending == 0
    with pytest.raises(LeaseLost):
        await forwarder.submit(_event(3))
    with pytest.raises(LeaseLost):
        await forwarder.aclose()
    assert sorted(peer.stored) == [1]


async def test_backpressure_when_buffer_is_full() -> None:
    peer = FlakyPeer()
    forwarder = EventForwarder(peer, "r1", 1, max_batch=5, max_buffer=10, max_delay_s=0.0)
    await asyncio.gather(*(forwarder.submit(_event(s)) for s in range(1, 101)))
    await forwarder.aclose()
    assert sorted(peer.stored) == list(range(1, 101))


def test_rejects_inconsistent_bounds() -> None:
    with pytest.raises(ValueError):
        EventForwarder(FlakyPeer(), "r1", max_batch=10, max_buffer=5)


async def test_against_embedded_plane_with_duplicates(tmp_path: Path) -> None:
    plane = EmbeddedControlPlane(tmp_path / "cp.db")
    run = await plane.create_run({"input": "x"})
    forwarder = EventForwarder(plane, run.run_id, 1, max_batch=64)
    for seq in [*range(1, 101), *range(50, 61)]:  # a replayed tail after a restart
        await forwarder.submit(_event(seq))
    await forwarder.aclose()
    assert [e.sequence for e in await plane.events(run.run_id)] == list(range(1, 101))
    await plane.aclose()
