"""Forwards each run's committed events to that run's control plane (one EventForwarder per run)."""

from __future__ import annotations

import asyncio
import logging

from agent.events.types import Event
from control_bridge import contract as c
from control_bridge.errors import BridgeError
from control_bridge.forwarder import EventForwarder
from control_bridge.protocol import ControlPlaneBase
from control_bridge.wire import utc_iso

logger = logging.getLogger(__name__)


class EventForwarding:
    """A run log publisher: ordered, batched, one RPC in flight per run, retried without duplicates."""

    def __init__(self) -> None:
        self.forwarders: dict[str, EventForwarder] = {}

    def attach(self, run_id: str, control: ControlPlaneBase, lease_version: int) -> None:
        current = self.forwarders.get(run_id)
        if current is not None and current.control is control and current.lease_version == lease_version:
            return
        self.forwarders[run_id] = EventForwarder(control, run_id, lease_version)

    def attached(self, run_id: str) -> bool:
        return run_id in self.forwarders

    async def publish(self, events: list[Event]) -> None:
        for event in events:
            forwarder = self.forwarders.get(event.run_id)
            if forwarder is None:
                continue
            try:
                await forwarder.submit(
                    c.EventRecord(
                        sequence=event.sequence, type=event.type, data=event.data, time=utc_iso(event.ts)
                    )
                )
            except BridgeError as exc:
                logger.warning("stopped forwarding events of %s: %s", event.run_id, exc.name)
                self.forwarders.pop(event.run_id, None)

    async def flush(self, run_id: str, timeout_s: float = 10.0) -> None:
        forwarder = self.forwarders.get(run_id)
        if forwarder is None:
            return
        try:
            async with asyncio.timeout(timeout_s):
                await forwarder.flush()
        except (BridgeError, TimeoutError) as exc:
            logger.warning("events of %s not all forwarded: %s", run_id, type(exc).__name__)

    async def detach(self, run_id: str) -> None:
        forwarder = self.forwarders.pop(run_id, None)
        if forwarder is not None:
            try:
                async with asyncio.timeout(5):
                    await forwarder.aclose()
            except (BridgeError, TimeoutError):
                pass

    async def aclose(self) -> None:
        for run_id in list(self.forwarders):
            await self.detach(run_id)
