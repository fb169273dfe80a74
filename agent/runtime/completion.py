"""The end of a run: `run.complete` to the control plane, forwarding drained, remote resources released.

A run that fails before its loop starts still gets exactly one terminal event and a `run.complete`, so no
run is left running anywhere.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agent.events.log import RunLog
from agent.events.payloads import RunFailed
from agent.runtime.bootstrap import RunBuilder
from agent.runtime.checkpoints import CheckpointStore
from agent.runtime.history import transcript_to_history
from agent.runtime.state import RunState
from control_bridge import contract as c
from control_bridge.errors import BridgeError, Unavailable
from control_bridge.protocol import ControlPlaneBase

if TYPE_CHECKING:
    from agent.runtime.manager import RunHandle

logger = logging.getLogger(__name__)

REPORT_RETRY_S = 60.0


@dataclass
class RunCompletion:
    log: RunLog
    checkpoints: CheckpointStore
    builder: RunBuilder
    on_finished: Callable[[RunState], Awaitable[None]] | None = None

    async def report(self, handle: RunHandle, state: RunState) -> None:
        """run.complete, after every event logged so far has reached the control plane."""
        forwarding = self.builder.forwarding_for(handle.control)
        if forwarding is not None:
            if not forwarding.attached(state.run_id):
                forwarding.attach(state.run_id, handle.control, state.lease_version)
                await forwarding.publish(self.log.read(state.run_id, after=0, limit=1_000_000))
            await forwarding.flush(state.run_id)
        status = state.status
        assert status in ("completed", "failed", "canceled"), status
        await self._send(
            handle.control,
            c.RunCompleteParams(
                run_id=state.run_id,
                lease_version=state.lease_version,
                status=status,
                output=state.output,
                error=state.error,
                reason=state.reason,
                usage=state.usage,
                transcript=transcript_to_history(state.transcript),
            ),
        )

    async def finished(self, handle: RunHandle, state: RunState, *, report: bool) -> None:
        """After the terminal event: (report,) forward the rest, release remote resources, forget the run."""
        if report:
            await self.report(handle, state)
        forwarding = self.builder.forwarding_for(handle.control)
        if forwarding is not None:
            await forwarding.flush(state.run_id)
            await forwarding.detach(state.run_id)
        try:
            await handle.control.tools_cleanup(
                c.ToolsCleanupParams(run_id=state.run_id, lease_version=state.lease_version)
            )
        except BridgeError:
            pass
        self.log.forget(state.run_id)
        self.checkpoints.forget(state.run_id)
        handle.loop = None
        if self.on_finished is not None:
            await self.on_finished(state)

    async def fail_early(self, handle: RunHandle, message: str) -> None:
        state = handle.state
        if state is None:
            error = c.RunErrorInfo(kind="bootstrap", message=message)
            forwarding = self.builder.forwarding_for(handle.control)
            if forwarding is not None:
                forwarding.attach(handle.run_id, handle.control, handle.lease_version)
            self.log.append(handle.run_id, RunFailed(error=error, usage=c.UsageRecord()), key="terminal")
            await self.log.commit(handle.run_id)
            if forwarding is not None:
                await forwarding.flush(handle.run_id)
                await forwarding.detach(handle.run_id)
            await self._send(
                handle.control,
                c.RunCompleteParams(
                    run_id=handle.run_id,
                    lease_version=handle.lease_version,
                    status="failed",
                    error=error,
                    reason="bootstrap",
                ),
            )
            self.log.forget(handle.run_id)  # (its terminal event's key stayed cached for ever)
            return
        if not state.terminal:
            state.status = "failed"
            state.error = c.RunErrorInfo(kind="internal", message=message)
            self.log.append(handle.run_id, RunFailed(error=state.error, usage=state.usage), key="terminal")
            self.checkpoints.save(state)
            await self.log.commit(handle.run_id)
            await self.finished(handle, state, report=True)

    async def _send(self, control: ControlPlaneBase, params: c.RunCompleteParams) -> None:
        """run.complete; an unavailable plane (e.g. the embedded one on a full disk) is asked again for up to
        REPORT_RETRY_S, so its record does not stay `running` (a restart reports a finished run again)."""
        deadline = time.monotonic() + REPORT_RETRY_S
        delay = 0.1
        while True:
            try:
                await control.run_complete(params)
                return
            except BridgeError as exc:
                if not isinstance(exc, Unavailable) or time.monotonic() + delay > deadline:
                    logger.warning("run.complete failed for %s: %s", params.run_id, exc.name)
                    return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
