"""Mirrors a run's checkpoints to the control plane with `run.checkpoint.save` (lease-fenced).

The local checkpoint is written at every boundary in the step's transaction; the remote copy is what lets a
container on another volume resume the run. Saves are coalesced — one in flight per run, the newest state
wins — so a slow control plane never slows the loop, and `settle` makes the newest state durable remotely
before a run suspends or pauses.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from agent.runtime.state import RunState
from control_bridge import contract as c
from control_bridge.errors import BridgeError, LeaseLost
from control_bridge.protocol import ControlPlaneBase

logger = logging.getLogger(__name__)


class RemoteCheckpoints:
    def __init__(self, control: ControlPlaneBase) -> None:
        self.control = control
        self.sent_version = 0
        self.lease_lost = False
        self._task: asyncio.Task[None] | None = None

    async def on_step(self, state: RunState) -> None:
        if self._task is not None and not self._task.done():
            return  # coalesced: the next boundary after this save lands sends the newest state
        self._task = asyncio.create_task(
            self._send(
                state.run_id,
                state.lease_version,
                state.checkpoint_version,
                state.model_dump(mode="json", by_alias=True),
            )
        )

    async def _send(self, run_id: str, lease: int, version: int, snapshot: dict[str, Any]) -> None:
        if self.lease_lost or version <= self.sent_version:
            return
        try:
            await self.control.run_checkpoint_save(
                c.RunCheckpointSaveParams(run_id=run_id, lease_version=lease, version=version, state=snapshot)
            )
            self.sent_version = version
        except LeaseLost:
            self.lease_lost = True
        except BridgeError as exc:
            logger.warning(
                "run.checkpoint.save failed for %s: %s (the local checkpoint stands)", run_id, exc.name
            )

    async def settle(self, state: RunState) -> None:
        """Waits for the save in flight, then sends the newest state if it is not there yet."""
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        if state.checkpoint_version > self.sent_version:
            await self._send(
                state.run_id,
                state.lease_version,
                state.checkpoint_version,
                state.model_dump(mode="json", by_alias=True),
            )
