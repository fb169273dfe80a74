"""The run loop: plan → execute tools → resume, one asyncio task per run.

The loop is driven by `RunState` alone, so the same code starts a run, continues it after a confirmation and
resumes it from a checkpoint after a crash. Each iteration is one step: a model step (`model_step.py`) or a
tool step (`tool_step.py`); every step ends at a boundary that the commit scheduler (`commits.py`) writes
with its events. Cancel, pause and suspension act only at boundaries (cancel also interrupts an in-flight
model call). Every way out of `run` commits first, and a finished run has exactly one terminal event.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from agent.events.log import RunLog
from agent.events.payloads import (
    AwaitClarification,
    AwaitConfirmation,
    EventData,
    Phase,
    PhaseChanged,
    RunCanceled,
    RunCompleted,
    RunFailed,
    RunPaused,
    RunResumed,
    RunSuspended,
)
from agent.models.base import ModelClient
from agent.models.events import EventEmittingModel
from agent.runtime.checkpoints import CheckpointStore
from agent.runtime.clock import ActiveClock
from agent.runtime.commits import CommitScheduler
from agent.runtime.heartbeat import Heartbeat
from agent.runtime.model_step import model_step
from agent.runtime.prompting import PromptBuilder
from agent.runtime.remote_checkpoints import RemoteCheckpoints
from agent.runtime.signals import RunDetached, RunStopped
from agent.runtime.state import RunState
from agent.runtime.templates import Templates
from agent.runtime.tool_admission import admission
from agent.runtime.tool_step import tools_step
from agent.tools.registry import ToolRegistry
from control_bridge import contract as c
from control_bridge.errors import BridgeError, LeaseLost
from control_bridge.protocol import ControlPlaneBase

logger = logging.getLogger(__name__)

CANCEL_POLL_INTERVAL_S = 1.0


@dataclass
class RunDeps:
    control: ControlPlaneBase
    log: RunLog
    checkpoints: CheckpointStore
    model: ModelClient
    registry: ToolRegistry
    templates: Templates
    build_prompt: PromptBuilder | None = None
    heartbeat_interval_s: float = 15.0
    report_complete: Callable[[RunState], Awaitable[None]] | None = None
    """Sends run.complete before the terminal event is logged (see `_finish`)."""
    remote: RemoteCheckpoints | None = None
    """Mirrors checkpoints to the control plane (None with the embedded one, which shares DATA_DIR)."""


class RunLoop:
    def __init__(self, state: RunState, deps: RunDeps) -> None:
        self.state = state
        self.deps = deps
        self.clock = ActiveClock(state)
        self.commits = CommitScheduler(state, deps.log, deps.checkpoints, self.clock, deps.remote)
        self.toolset = admission(deps.registry, deps.templates)
        self.model = EventEmittingModel(deps.model, self._emit_model_event)
        self.cancel_reason: str | None = None
        self.detaching = False
        self.in_model_call = False
        self.in_remote_tools = False
        """The batch in flight is remote calls (and pure local ones): run.cancel may interrupt it; the control
        plane records the interrupted call's outcome (and tells an MCP server with notifications/cancelled)."""
        self.paused = False
        self._resumed = asyncio.Event()
        self._task: asyncio.Task[Any] | None = None
        self._last_cancel_poll = 0.0

    @property
    def remote(self) -> RemoteCheckpoints | None:
        return self.deps.remote

    # --- signals from outside (run.cancel / run.pause / run.resume, heartbeat, shutdown) -----------------
    def request_cancel(self, reason: str) -> None:
        if self.cancel_reason is None:
            self.cancel_reason = reason
        self._interrupt_model_call()
        if self.in_remote_tools and self._task is not None:
            self._task.cancel()  # the tool step turns the cancellation into a stop
        self._resumed.set()

    def request_detach(self) -> None:
        """Shutdown: stop at the next boundary; an in-flight model call (no side effects) is interrupted."""
        self.detaching = True
        self._interrupt_model_call()
        self._resumed.set()

    def request_pause(self) -> None:
        self.paused = True
        self._resumed.clear()

    def request_resume(self) -> None:
        self.paused = False
        self._resumed.set()

    def _interrupt_model_call(self) -> None:
        if self.in_model_call and self._task is not None:
            self._task.cancel()  # the model step turns the cancellation into a stop or a detach

    # --- events -------------------------------------------------------------------------------------------
    def set_phase(self, phase: Phase) -> None:
        if self.state.phase != phase:
            self.commits.emit(PhaseChanged(from_=self.state.phase, to=phase))
            self.state.phase = phase

    async def _emit_model_event(self, payload: EventData) -> None:
        self.commits.emit(payload)  # (streamed deltas reach readers within COMMIT_LATENCY_S)

    # --- the loop -----------------------------------------------------------------------------------------
    async def run(self) -> RunState:
        """Runs until the run finishes, suspends, or is stopped; returns the state at that point."""
        s = self.state
        if s.terminal:
            return s
        self.clock.start()
        self._last_cancel_poll = time.monotonic()
        self._task = asyncio.current_task()
        if s.status == "paused":  # paused is durable: a restart or a new lease does not resume it
            self.request_pause()
        heartbeat = Heartbeat(self._beat, self.deps.heartbeat_interval_s)
        try:
            if s.status not in ("running", "paused"):
                s.status = "running"
                if s.phase == "awaiting":
                    self.set_phase("executing_tools")
            while True:
                await self._check_signals()
                if s.pending:
                    await self._suspend()
                    return s
                if s.open_tool_uses():
                    await tools_step(self)
                elif s.output is not None:
                    await self._finish("completed")
                    return s
                else:
                    await model_step(self)
        except RunDetached:
            self.commits.boundary()
            await self.commits.commit()
        except RunStopped as stop:
            await self._finish(stop.status, reason=stop.reason, error=stop.error)
        except LeaseLost:
            await self._finish("canceled", reason="lease_lost")
        except asyncio.CancelledError:
            # The task itself was cancelled (shutdown): checkpoint what we have; the run resumes elsewhere.
            self.commits.boundary()
            await self.commits.commit()
            raise
        except Exception as exc:
            logger.exception("run %s failed", s.run_id)
            await self._finish(
                "failed", error=c.RunErrorInfo(kind="internal", message=f"{type(exc).__name__}: {exc}")
            )
        finally:
            heartbeat.stop()
            self.commits.stop()
            self.clock.stop()
        return s

    async def _check_signals(self) -> None:
        if self.cancel_reason is None and time.monotonic() - self._last_cancel_poll >= CANCEL_POLL_INTERVAL_S:
            self._last_cancel_poll = time.monotonic()
            try:
                result = await self.deps.control.run_is_cancelled(
                    c.RunIsCancelledParams(run_id=self.state.run_id, lease_version=self.state.lease_version)
                )
                if result.cancelled:
                    self.cancel_reason = result.reason or "user_requested"
            except LeaseLost:
                raise
            except BridgeError as exc:
                logger.warning("run.isCancelled failed for %s: %s", self.state.run_id, exc.name)
        if self.cancel_reason is not None:
            raise RunStopped("canceled", self.cancel_reason)
        if self.detaching:
            raise RunDetached()
        if self.paused:
            await self._pause()

    async def _pause(self) -> None:
        s = self.state
        if s.status != "paused":  # (already paused when resumed from a paused checkpoint)
            s.status = "paused"
            self.commits.emit(RunPaused(phase=s.phase))
            self.commits.boundary()
            await self.commits.commit()
            if self.deps.remote is not None:
                await self.deps.remote.settle(s)
        self.clock.stop()  # paused time does not count against the budget
        await self._resumed.wait()
        self.clock.start()
        if self.cancel_reason is not None:
            raise RunStopped("canceled", self.cancel_reason)
        if self.detaching:
            raise RunDetached()
        s.status = "running"
        self.commits.emit(RunResumed(phase=s.phase))
        self.commits.boundary()
        await self.commits.commit()

    async def _beat(self) -> bool:
        """One run.heartbeat; False once the lease is lost (no more beats)."""
        try:
            result = await self.deps.control.run_heartbeat(
                c.RunHeartbeatParams(run_id=self.state.run_id, lease_version=self.state.lease_version)
            )
            if result.cancel_requested:
                self.request_cancel("user_requested")
        except LeaseLost:
            self.request_cancel("lease_lost")
            return False
        except BridgeError as exc:
            logger.warning("heartbeat failed for %s: %s", self.state.run_id, exc.name)
        return True

    async def _suspend(self) -> None:
        s = self.state
        s.status = "suspended"
        self.set_phase("awaiting")
        for item in s.pending:
            event = AwaitConfirmation if item.kind == "confirmation" else AwaitClarification
            self.commits.emit(
                event(
                    await_id=item.await_id,
                    title=item.title,
                    prompt=item.prompt,
                    tool_name=item.tool_name,
                    tool_call_id=item.tool_call_id,
                    payload=item.payload,
                ),
                key=f"{event.TYPE}:{item.await_id}",
            )
        self.commits.emit(
            RunSuspended(pending=[p.await_id for p in s.pending]),
            key=f"run.suspended:{s.pending[0].await_id}",
        )
        self.commits.boundary()
        await self.commits.commit()

    async def _finish(
        self, status: c.TerminalStatus, *, reason: str | None = None, error: c.RunErrorInfo | None = None
    ) -> None:
        s = self.state
        if s.terminal:
            return
        if error is None and status == "failed":
            error = c.RunErrorInfo(kind=reason or "internal", message=reason or "the run failed")
        if self.deps.report_complete is not None:
            # The control plane hears first (it records the answer in the thread); only then is the terminal
            # event logged, so a client that sees it and sends the next message finds this answer in the
            # history. A crash in between resumes into _finish again, and run.complete is idempotent.
            await self.commits.commit()  # (the answer it is told is durable here first)
            final = s.model_copy(update={"status": status, "reason": reason, "error": error, "pending": []})
            await self.deps.report_complete(final)
        s.status = status
        s.reason = reason
        s.error = error
        s.pending = []
        self.set_phase(status)
        usage = s.usage.model_copy()
        terminal: EventData
        if status == "completed":
            terminal = RunCompleted(output=s.output or "", usage=usage)
        elif status == "failed":
            assert error is not None
            terminal = RunFailed(error=error, usage=usage)
        else:
            terminal = RunCanceled(reason=reason or "user_requested", usage=usage)
        self.commits.emit(terminal, key="terminal")
        self.commits.boundary()
        await self.commits.commit()
