"""RunManager: admission, the registry of runs in this process, and the verbs that act on them.

The manager is the one process-level registry the server builds at start. It owns no platform state: a run
is bootstrapped from the control plane (`bootstrap.py`), answered (`awaits.py`) and ended (`completion.py`);
everything it does is in the local run log and checkpoints. A `/start` reads top to bottom: `start` admits
it, `_drive` prepares its state and loop, runs the loop, and hands the end to the completion.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from agent.events.forwarding import EventForwarding
from agent.events.log import RunLog
from agent.events.payloads import EventData
from agent.logs import run_context
from agent.runtime import awaits
from agent.runtime.bootstrap import ModelFactory, RunBuilder, RunContextFactory
from agent.runtime.checkpoints import CheckpointStore
from agent.runtime.completion import RunCompletion
from agent.runtime.loop import RunLoop
from agent.runtime.policy import PolicyOverride, RunPolicy
from agent.runtime.requests import ContinueRequest, RunError, StartRequest, StartResult
from agent.runtime.state import RunState
from agent.runtime.templates import Templates
from agent.tools.registry import TOOL_OUTAGE_WINDOW_S
from control_bridge import contract as c
from control_bridge.errors import BridgeError, Conflict, LeaseLost
from control_bridge.protocol import ControlPlaneBase

logger = logging.getLogger(__name__)

MAX_FINISHED_IN_MEMORY = 1000

ControlFactory = Callable[[str, str | None, StartRequest], ControlPlaneBase]
"""(URL, token, the /start request) → the run's control plane client (the Takos transport needs the rest of
the /start identity: service, tier, container id, model)."""
CreateRun = Callable[[c.CreateRunParams], Awaitable[c.CreateRunResult]]


@dataclass
class ManagerConfig:
    max_concurrent_runs: int = 5
    default_model: str | None = None
    heartbeat_interval_s: float = 15.0
    tool_outage_window_s: float = TOOL_OUTAGE_WINDOW_S
    default_policy: RunPolicy = field(default_factory=RunPolicy)


@dataclass
class RunHandle:
    run_id: str
    control: ControlPlaneBase
    state: RunState | None = None
    loop: RunLoop | None = None
    task: asyncio.Task[None] | None = None
    lease_version: int = 0
    model: str | None = None
    created: bool = False
    """Created by this process a moment ago: there is no checkpoint anywhere to look for."""
    cancel_reason: str | None = None
    """A cancel that arrived before the loop existed; the loop is told as soon as it is made."""

    @property
    def live(self) -> bool:
        return self.task is not None and not self.task.done()


def _with_model(config: c.RunConfigResult | None, model: str | None) -> c.RunConfigResult | None:
    if model is None or (config is not None and config.model):
        return config
    return (config or c.RunConfigResult()).model_copy(update={"model": model})


class RunManager:
    def __init__(
        self,
        *,
        config: ManagerConfig,
        control: ControlPlaneBase,
        builder: RunBuilder,
        completion: RunCompletion,
        control_factory: ControlFactory | None = None,
        release_control: Callable[[ControlPlaneBase], Awaitable[None]] | None = None,
        create_run: CreateRun | None = None,
    ) -> None:
        self.config = config
        self.control = control
        self.builder = builder
        self.completion = completion
        self.control_factory = control_factory
        self.release_control = release_control
        """Closes a per-run control-plane client (one a /start named) once no live run uses it."""
        self.create_run = create_run
        self.log = builder.log
        self.checkpoints = builder.checkpoints
        self.override: PolicyOverride | None = None
        self.runs: dict[str, RunHandle] = {}
        self.accepting = True
        self._admission = asyncio.Lock()

    @classmethod
    def assemble(
        cls,
        *,
        config: ManagerConfig,
        control: ControlPlaneBase,
        log: RunLog,
        checkpoints: CheckpointStore,
        model_factory: ModelFactory,
        run_context: RunContextFactory | None = None,
        templates: Templates | None = None,
        forwarding: EventForwarding | None = None,
        create_run: CreateRun | None = None,
        on_finished: Callable[[RunState], Awaitable[None]] | None = None,
        control_factory: ControlFactory | None = None,
        release_control: Callable[[ControlPlaneBase], Awaitable[None]] | None = None,
    ) -> RunManager:
        """The manager with its builder and completion, from the process-level pieces, in one call."""
        builder = RunBuilder(
            log=log,
            checkpoints=checkpoints,
            model_factory=model_factory,
            templates=templates or Templates(),
            forwarding=forwarding,
            default_policy=config.default_policy,
            default_model=config.default_model,
            heartbeat_interval_s=config.heartbeat_interval_s,
            tool_outage_window_s=config.tool_outage_window_s,
            run_context=run_context,
        )
        completion = RunCompletion(log=log, checkpoints=checkpoints, builder=builder, on_finished=on_finished)
        return cls(
            config=config,
            control=control,
            builder=builder,
            completion=completion,
            control_factory=control_factory,
            release_control=release_control,
            create_run=create_run,
        )

    # --- admission ----------------------------------------------------------------------------------------
    @property
    def active(self) -> int:
        return sum(1 for h in self.runs.values() if h.live)

    def _capacity_error(self, message: str = "at capacity") -> RunError:
        return RunError("capacity", message, active=self.active, max=self.config.max_concurrent_runs)

    async def start(self, req: StartRequest) -> StartResult:
        if not self.accepting:
            raise self._capacity_error("shutting down: not accepting runs")
        if req.session_id is not None and not req.session_id.strip():
            raise RunError("invalid", "sessionId must not be blank; omit it or give a real session id")
        async with self._admission:
            known = self.runs.get(req.run_id) if req.run_id else None
            if known is None and req.run_id and req.lease_version is None and self.log.finished(req.run_id):
                # Finished long ago and dropped from memory: still a duplicate, never a second run.
                return StartResult(run_id=req.run_id, duplicate=True)
            if known is not None:
                return await self._start_known(known, req)
            if self.active >= self.config.max_concurrent_runs:
                raise self._capacity_error()
            control = self._control_for(req)
            if req.input is not None:
                run_id, lease = await self._create(req, control)
            elif req.run_id is None:
                raise RunError("invalid", "give a runId (a run created in the control plane) or an input")
            else:
                run_id, lease = req.run_id, req.lease_version or 0
            handle = RunHandle(
                run_id=run_id,
                control=control,
                lease_version=lease,
                model=req.model,
                created=req.input is not None,
            )
            self.runs[run_id] = handle
            handle.task = asyncio.create_task(self._drive(handle), name=run_id)
            return StartResult(run_id=run_id)

    async def _start_known(self, known: RunHandle, req: StartRequest) -> StartResult:
        if req.lease_version is not None and req.lease_version > known.lease_version:
            control = self._control_for(req)
            await self._confirm_lease(known, req.lease_version, control)  # before the live run is touched
            await self._replace(known, req.lease_version, control)
            return StartResult(run_id=known.run_id, replaced=True)
        unfinished = known.state is not None and not known.state.terminal
        if not known.live and unfinished:
            # Known only from its checkpoint (e.g. after a restart, a reader asked first): drive it.
            if self.active >= self.config.max_concurrent_runs:
                raise self._capacity_error()
            known.task = asyncio.create_task(self._drive(known), name=known.run_id)
        return StartResult(run_id=known.run_id, duplicate=True)

    def _control_for(self, req: StartRequest) -> ControlPlaneBase:
        if not req.control_rpc_base_url:
            return self.control
        if self.control_factory is None:
            raise RunError("invalid", "this server cannot use a per-run control plane URL")
        return self.control_factory(req.control_rpc_base_url, req.control_rpc_token, req)

    async def _create(self, req: StartRequest, control: ControlPlaneBase) -> tuple[str, int]:
        """`input` on /start: the embedded control plane creates the thread, the message and the run."""
        if self.create_run is None or control is not self.control:
            raise RunError(
                "invalid",
                "input is only accepted with the embedded control plane; create the run in your "
                "control plane and start it by runId",
            )
        created = await self.create_run(
            c.CreateRunParams(
                input=req.input or "",
                run_id=req.run_id,
                session_id=req.session_id,
                thread_id=req.thread_id,
                space_id=req.space_id or "default",
                agent_type=req.agent_type or "default",
                labels=req.labels,
                locale=req.locale,
                # The run's model is kept with the run, so a restart before its first checkpoint resumes
                # it with the same model (see `adopt`).
                config=_with_model(req.config, req.model),
            )
        )
        return created.run_id, created.lease_version

    async def _confirm_lease(self, handle: RunHandle, lease_version: int, control: ControlPlaneBase) -> None:
        """A higher lease replaces the run here only if the control plane granted it: a heartbeat with it is
        fenced (newer than granted → Conflict, older than current → LeaseLost), so a forged or stale lease is
        refused while the live run goes on untouched. An unreachable plane propagates (nothing is replaced)."""
        try:
            await control.run_heartbeat(
                c.RunHeartbeatParams(run_id=handle.run_id, lease_version=lease_version)
            )
        except (Conflict, LeaseLost) as exc:
            raise RunError(
                "conflict",
                f"lease {lease_version} was not granted by the control plane; run {handle.run_id} continues "
                f"under lease {handle.lease_version}",
                runId=handle.run_id,
                leaseVersion=handle.lease_version,
                detail=exc.message,
            ) from None

    async def _replace(self, handle: RunHandle, lease_version: int, control: ControlPlaneBase) -> None:
        """A higher lease for a run we know: stop what runs here and resume from the checkpoint, through the
        client the new /start named (under Takos its token is the new lease's)."""
        if handle.task is not None and not handle.task.done():
            handle.task.cancel()
            await asyncio.gather(handle.task, return_exceptions=True)
        if control is not handle.control:
            await self._release(handle)
            handle.control = control
        handle.lease_version = lease_version
        handle.state = None
        handle.task = asyncio.create_task(self._drive(handle), name=handle.run_id)

    async def adopt(self, run_id: str, lease_version: int) -> str:
        """At start, an unfinished run the embedded control plane has (this container owns all of them):
        `started` (driven from its checkpoint, or bootstrapped from its input when the log never saw it),
        `loaded` (suspended: it waits for its answers, as before the restart), `busy` (no free slot: ask
        again later) or `known` (already here)."""
        async with self._admission:
            known = self.runs.get(run_id)  # (a reader may have loaded it from its checkpoint already)
            if known is not None and (known.live or known.task is not None):
                return "known"
            saved = known.state if known is not None else self.checkpoints.load(run_id)
            if saved is not None and saved.status == "suspended" and saved.pending:
                self.runs[run_id] = known or RunHandle(
                    run_id=run_id, control=self.control, state=saved, lease_version=saved.lease_version
                )
                return "loaded"
            if self.active >= self.config.max_concurrent_runs:
                return "busy"
            handle = known or RunHandle(run_id=run_id, control=self.control, lease_version=lease_version)
            self.runs[run_id] = handle
            handle.task = asyncio.create_task(self._drive(handle), name=run_id)
            return "started"

    # --- child runs (agent tools) -------------------------------------------------------------------------
    async def run_child(self, run_id: str, lease_version: int, model: str | None) -> RunState | None:
        """Runs a child run inside its parent's admission slot and returns its final state."""
        handle = self.runs.get(run_id)
        if handle is None:
            handle = RunHandle(run_id=run_id, control=self.control, lease_version=lease_version, model=model)
            self.runs[run_id] = handle
            handle.task = asyncio.create_task(self._drive(handle), name=run_id)
        while handle.task is not None and not handle.task.done():
            await asyncio.shield(handle.task)
        return handle.state

    def link_child(self, parent_run_id: str, event: EventData, key: str) -> None:
        self.log.append(parent_run_id, event, key=key)

    # --- driving a run ------------------------------------------------------------------------------------
    async def _drive(self, handle: RunHandle) -> None:
        try:
            state = handle.state or await self.builder.prepare(handle, self.override)
            handle.state = state
            if state.terminal:  # finished before a restart: make sure the control plane knows
                await self._finished(handle, state, report=True)
                return
            loop = await self.builder.make_loop(handle, state, self, self.completion.report)
            handle.loop = loop
            if handle.cancel_reason is not None:  # canceled while it was being set up
                loop.request_cancel(handle.cancel_reason)
            # Every log record written by this task carries the run's ids (the context is per task).
            run_context.set({"runId": state.run_id, "sessionId": state.session_id})
            await loop.run()
            if loop.remote is not None:  # the control plane must hold the newest state, final ones included
                await loop.remote.settle(loop.state)
            if loop.state.terminal:
                await self._finished(handle, loop.state, report=False)
        except asyncio.CancelledError:
            raise
        except LeaseLost:
            logger.warning("run %s: lease lost before it started", handle.run_id)
        except BridgeError as exc:
            await self.completion.fail_early(
                handle, f"the control plane refused the run ({exc.name}): {exc.message}"
            )
            await self._release(handle)
        except Exception as exc:
            logger.exception("run %s could not be driven", handle.run_id)
            await self.completion.fail_early(handle, f"{type(exc).__name__}: {exc}")
            await self._release(handle)

    async def _finished(self, handle: RunHandle, state: RunState, *, report: bool) -> None:
        await self.completion.finished(handle, state, report=report)
        await self._release(handle)
        self._drop_finished()

    async def _release(self, handle: RunHandle) -> None:
        control = handle.control
        if control is self.control or self.release_control is None:
            return
        if not any(h is not handle and h.control is control and h.live for h in self.runs.values()):
            await self.release_control(control)

    def _drop_finished(self) -> None:
        """Keeps the registry bounded: the oldest finished runs leave memory (their log and checkpoint stay,
        and `get` reloads them on demand)."""
        # (A run that failed before it had a state, e.g. at bootstrap, is finished too: its log has the end.)
        finished = [
            rid
            for rid, h in self.runs.items()
            if (h.state is not None and h.state.terminal) or (h.state is None and not h.live)
        ]
        for run_id in finished[: max(0, len(finished) - MAX_FINISHED_IN_MEMORY)]:
            del self.runs[run_id]
            # (A run read back from its checkpoint, e.g. by `run.get`, left caches there and in the log.)
            self.log.forget(run_id)
            self.checkpoints.forget(run_id)

    # --- verbs --------------------------------------------------------------------------------------------
    def get(self, run_id: str) -> RunHandle:
        handle = self.runs.get(run_id)
        if handle is None:
            state = self.checkpoints.load(run_id)
            if state is None:
                if self.log.has_run(run_id):
                    return RunHandle(run_id=run_id, control=self.control)
                raise RunError("not_found", f"no run {run_id!r} in this container")
            handle = RunHandle(
                run_id=run_id, control=self.control, state=state, lease_version=state.lease_version
            )
            self.runs[run_id] = handle
            self._drop_finished()  # reads of many old runs must not grow the registry past its bound
        return handle

    async def cancel(self, run_id: str, reason: str = "user_requested") -> RunHandle:
        handle = self.get(run_id)
        state = handle.state
        if state is not None and state.terminal:
            return handle
        if handle.live:
            handle.cancel_reason = handle.cancel_reason or reason
            if handle.loop is not None:
                handle.loop.request_cancel(reason)
        elif state is not None:  # suspended, or known only from its checkpoint: finish it here
            handle.cancel_reason = reason
            handle.task = asyncio.create_task(self._drive(handle), name=run_id)
        if handle.task is not None:
            await asyncio.wait({handle.task}, timeout=10)
        return handle

    async def pause(self, run_id: str) -> RunHandle:
        handle = self.get(run_id)
        if handle.loop is None or not handle.live:
            raise RunError("conflict", f"run {run_id} is not running (status {self.status(handle)})")
        handle.loop.request_pause()
        return handle

    async def resume(self, run_id: str) -> RunHandle:
        handle = self.get(run_id)
        if handle.loop is None or not handle.loop.paused:
            raise RunError("conflict", f"run {run_id} is not paused (status {self.status(handle)})")
        handle.loop.request_resume()
        return handle

    async def continue_(self, req: ContinueRequest) -> RunHandle:
        handle = self.get(req.run_id)
        state = handle.state
        awaits.first_pending(state, req)
        assert state is not None
        if len(state.pending) == 1 and not handle.live and self.active >= self.config.max_concurrent_runs:
            raise self._capacity_error("at capacity: answer again when a run finishes (nothing was recorded)")
        await awaits.answer(state, req, self.log, self.checkpoints, self.builder.templates)
        if not state.pending:
            if handle.task is not None and handle.live:  # the suspended loop may still be settling
                await asyncio.wait({handle.task}, timeout=30)
            handle.task = asyncio.create_task(self._drive(handle), name=state.run_id)
        return handle

    def status(self, handle: RunHandle) -> str:
        return handle.state.status if handle.state is not None else "pending"

    async def shutdown(self, grace_s: float) -> None:
        """SIGTERM: stop admitting; each run stops at its next step boundary (an in-flight model call is
        interrupted: it has no side effects) and checkpoints; whatever is still running after the grace
        period is cancelled. The runs resume elsewhere by lease."""
        self.accepting = False
        tasks = [h.task for h in self.runs.values() if h.task is not None and h.live]
        for handle in self.runs.values():
            if handle.live and handle.loop is not None:
                handle.loop.request_detach()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace_s)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=5)
