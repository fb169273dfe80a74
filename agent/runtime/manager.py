"""RunManager: admission, the registry of runs in this process, and the verbs that act on them.

The manager is the one process-level registry the server builds at start. It owns no platform state: a run
is bootstrapped from the control plane, and everything it does is in the local run log and checkpoints.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from agent.events.log import RunLog
from agent.logs import run_context
from agent.models.base import ModelClient
from agent.models.types import ToolResultPart
from agent.runtime.checkpoints import CheckpointStore
from agent.runtime.history import history_to_transcript
from agent.runtime.loop import PromptBuilder, RunDeps, RunLoop, transcript_for_complete
from agent.runtime.policy import PolicyOverride, RunPolicy, apply_override, from_config
from agent.runtime.remote_checkpoints import RemoteCheckpoints
from agent.runtime.requests import (
    ClarificationAnswer,
    ConfirmationDecision,
    ContinueRequest,
    RunError,
    StartRequest,
    StartResult,
)
from agent.runtime.state import PendingAwait, RunState
from agent.runtime.templates import Templates
from agent.tools.registry import ToolRegistry
from agent.tools.spec import Tool
from control_bridge import contract as c
from control_bridge.errors import BridgeError, LeaseLost
from control_bridge.protocol import ControlPlaneBase

logger = logging.getLogger(__name__)

MAX_FINISHED_IN_MEMORY = 1000


RunContextFactory = Callable[[RunState, ControlPlaneBase, list[c.RemoteTool]], Awaitable["RunExtras"]]
ModelFactory = Callable[[str | None, dict[str, str]], ModelClient]
ControlFactory = Callable[[str, str | None, StartRequest], ControlPlaneBase]


@dataclass
class RunExtras:
    """What the server adds to a run: local tools, a prompt builder and events to log at loop start."""

    tools: list[Tool] = field(default_factory=list)
    build_prompt: PromptBuilder | None = None
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


@dataclass
class ManagerConfig:
    max_concurrent_runs: int = 5
    default_model: str | None = None
    heartbeat_interval_s: float = 15.0
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


class RunManager:
    def __init__(
        self,
        *,
        config: ManagerConfig,
        control: ControlPlaneBase,
        log: RunLog,
        checkpoints: CheckpointStore,
        model_factory: ModelFactory,
        run_context: RunContextFactory | None = None,
        control_factory: ControlFactory | None = None,
        templates: Templates | None = None,
        create_run: Callable[[c.CreateRunParams], Awaitable[c.CreateRunResult]] | None = None,
        on_finished: Callable[[RunState], Awaitable[None]] | None = None,
        forwarding: Any = None,
    ) -> None:
        self.config = config
        self.control = control
        self.log = log
        self.checkpoints = checkpoints
        self.model_factory = model_factory
        self.run_context = run_context
        self.control_factory = control_factory
        self.templates = templates or Templates()
        self.create_run = create_run
        self.on_finished = on_finished
        self.forwarding = forwarding
        self.release_control: Callable[[ControlPlaneBase], Awaitable[None]] | None = None
        """Closes a per-run control-plane client once no live run uses it."""
        self.override: PolicyOverride | None = None
        self.runs: dict[str, RunHandle] = {}
        self.accepting = True
        self._admission = asyncio.Lock()

    # --- admission ----------------------------------------------------------------------------------------
    @property
    def active(self) -> int:
        return sum(1 for h in self.runs.values() if h.task is not None and not h.task.done())

    async def start(self, req: StartRequest) -> StartResult:
        if not self.accepting:
            raise RunError(
                "capacity",
                "shutting down: not accepting runs",
                active=self.active,
                max=self.config.max_concurrent_runs,
            )
        if req.session_id is not None and not req.session_id.strip():
            raise RunError("invalid", "sessionId must not be blank; omit it or give a real session id")
        async with self._admission:
            known = self.runs.get(req.run_id) if req.run_id else None
            if known is None and req.run_id and req.lease_version is None and self.log.finished(req.run_id):
                # Finished long ago and dropped from memory: still a duplicate, never a second run.
                return StartResult(run_id=req.run_id, duplicate=True)
            if known is not None:
                if req.lease_version is not None and req.lease_version > known.lease_version:
                    await self._replace(known, req.lease_version, self._control_for(req))
                    return StartResult(run_id=known.run_id, replaced=True)
                unfinished = known.state is None or not known.state.terminal
                if not known.live and unfinished and known.state is not None:
                    # Known only from its checkpoint (e.g. after a restart, a reader asked first): drive it.
                    if self.active >= self.config.max_concurrent_runs:
                        raise RunError(
                            "capacity", "at capacity", active=self.active, max=self.config.max_concurrent_runs
                        )
                    known.task = asyncio.create_task(self._drive(known), name=known.run_id)
                return StartResult(run_id=known.run_id, duplicate=True)
            if self.active >= self.config.max_concurrent_runs:
                raise RunError(
                    "capacity", "at capacity", active=self.active, max=self.config.max_concurrent_runs
                )
            control = self._control_for(req) or self.control
            run_id = req.run_id
            if req.input is not None:
                if self.create_run is None or control is not self.control:
                    raise RunError(
                        "invalid",
                        "input is only accepted with the embedded control plane; create the run in your "
                        "control plane and start it by runId",
                    )
                created = await self.create_run(
                    c.CreateRunParams(
                        input=req.input,
                        run_id=req.run_id,
                        session_id=req.session_id,
                        thread_id=req.thread_id,
                        space_id=req.space_id or "default",
                        agent_type=req.agent_type or "default",
                        labels=req.labels,
                        locale=req.locale,
                        config=req.config,
                    )
                )
                run_id = created.run_id
                lease = created.lease_version
            elif run_id is None:
                raise RunError("invalid", "give a runId (a run created in the control plane) or an input")
            else:
                lease = req.lease_version or 0
            handle = RunHandle(
                run_id=run_id,
                control=control,
                lease_version=lease,
                model=req.model,
                created=req.input is not None,
            )
            self.runs[run_id] = handle
            handle.task = asyncio.create_task(self._drive(handle, session_hint=req.session_id), name=run_id)
            return StartResult(run_id=run_id)

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

    def link_child(self, parent_run_id: str, data: dict[str, Any]) -> None:
        self.log.append(parent_run_id, "child_run.linked", data, key=f"child_run.linked:{data['childRunId']}")

    def _control_for(self, req: StartRequest) -> ControlPlaneBase | None:
        """The per-run control plane a /start names, or None for the server's own."""
        if not req.control_rpc_base_url:
            return None
        if self.control_factory is None:
            raise RunError("invalid", "this server cannot use a per-run control plane URL")
        return self.control_factory(req.control_rpc_base_url, req.control_rpc_token, req)

    async def _replace(
        self, handle: RunHandle, lease_version: int, control: ControlPlaneBase | None = None
    ) -> None:
        """A higher lease for a run we know: stop what runs here and resume from the checkpoint (with the
        new lease's control plane client, when the /start named one: its token is the new lease's)."""
        if handle.task is not None and not handle.task.done():
            handle.task.cancel()
            await asyncio.gather(handle.task, return_exceptions=True)
        if control is not None and control is not handle.control:
            old, handle.control = handle.control, control
            if old is not self.control and self.release_control is not None:
                if not any(h.control is old and h.live for h in self.runs.values()):
                    await self.release_control(old)
        handle.lease_version = lease_version
        handle.state = None
        handle.task = asyncio.create_task(self._drive(handle), name=handle.run_id)

    def _forwarding(self, control: ControlPlaneBase) -> Any:
        """The event forwarding for runs on `control`, or None: an in-process control plane shares DATA_DIR
        with the run log, the one copy of the events (SSE and run.events serve them), so it gets no copies."""
        if self.forwarding is None or getattr(control, "in_process", False):
            return None
        return self.forwarding

    # --- driving a run ------------------------------------------------------------------------------------
    async def _drive(self, handle: RunHandle, session_hint: str | None = None) -> None:
        try:
            state = handle.state or await self._prepare(handle, session_hint)
            handle.state = state
            if state.terminal:  # finished before a restart: make sure the control plane knows
                await self._complete(handle, state, report=True)
                return
            loop = await self._make_loop(handle, state)
            handle.loop = loop
            if handle.cancel_reason is not None:  # canceled while it was being set up
                loop.request_cancel(handle.cancel_reason)
            await self._run_loop(handle, loop)
        except asyncio.CancelledError:
            raise
        except LeaseLost:
            logger.warning("run %s: lease lost before it started", handle.run_id)
        except BridgeError as exc:
            await self._fail_early(handle, f"the control plane refused the run ({exc.name}): {exc.message}")
        except Exception as exc:
            logger.exception("run %s could not be driven", handle.run_id)
            await self._fail_early(handle, f"{type(exc).__name__}: {exc}")

    async def _prepare(self, handle: RunHandle, session_hint: str | None) -> RunState:
        ref = {"run_id": handle.run_id, "lease_version": handle.lease_version}
        saved = None if handle.created else self.checkpoints.load(handle.run_id)
        if not handle.created and (saved is None or not getattr(handle.control, "in_process", False)):
            # Another container may have taken the run further since this one last held it: the newer
            # checkpoint wins (an older one would repeat steps and reuse event numbers).
            remote = await handle.control.run_checkpoint_load(c.RunCheckpointLoadParams(**ref))
            if remote.state is not None:
                theirs = RunState.model_validate(remote.state)
                if saved is None or (theirs.lease_version, theirs.step, theirs.checkpoint_version) > (
                    saved.lease_version,
                    saved.step,
                    saved.checkpoint_version,
                ):
                    saved = theirs
                    self.log.continue_after(handle.run_id, saved.last_sequence)
        forwarding = self._forwarding(handle.control)
        if saved is not None and forwarding is not None:
            # The control plane may have missed events committed just before a crash: resend (it de-duplicates).
            forwarding.attach(handle.run_id, handle.control, handle.lease_version or saved.lease_version)
            await forwarding.publish(self.log.read(handle.run_id, after=0, limit=1_000_000))
        if saved is not None:
            saved.lease_version = handle.lease_version or saved.lease_version
            if not saved.terminal:
                self.log.append(
                    handle.run_id, "run.resumed", {"leaseVersion": saved.lease_version, "step": saved.step}
                )
            return saved
        boot = await handle.control.run_bootstrap(c.RunBootstrapParams(**ref))
        if not boot.session_id.strip():
            raise RunError("invalid", "the control plane gave this run a blank sessionId")
        handle.lease_version = handle.lease_version or boot.lease_version
        ref["lease_version"] = handle.lease_version
        config = await handle.control.run_config(c.RunConfigParams(**ref))
        history = await handle.control.conversation_history(c.ConversationHistoryParams(**ref))
        policy = apply_override(from_config(self.config.default_policy, config.policy), self.override)
        labels = {**policy.labels, **boot.labels}
        state = RunState(
            run_id=handle.run_id,
            session_id=boot.session_id,
            thread_id=boot.thread_id,
            space_id=boot.space_id,
            agent_type=boot.agent_type,
            input=boot.input,
            labels=labels,
            lease_version=handle.lease_version,
            model=handle.model or config.model or self.config.default_model or "local",
            system_prompt=config.system_prompt,
            temperature=config.temperature,
            max_tokens=config.max_tokens,
            locale=boot.locale,
            policy=policy.model_copy(update={"labels": labels}),
        )
        state.transcript = history_to_transcript(history.messages, boot.input)
        state.input_index = len(state.transcript) - 1
        self.log.append(
            handle.run_id,
            "run.started",
            {
                "runId": state.run_id,
                "sessionId": state.session_id,
                "threadId": state.thread_id,
                "spaceId": state.space_id,
                "agentType": state.agent_type,
                "input": state.input,
                "labels": state.labels,
                "model": state.model,
            },
            key="run.started",
        )
        self.log.append(
            handle.run_id,
            "policy.decision",
            {"policy": state.policy.model_dump(mode="json"), "override": self.override is not None},
        )
        self.log.append(handle.run_id, "phase.changed", {"from": None, "to": "prompted"})
        return state

    async def _make_loop(self, handle: RunHandle, state: RunState) -> RunLoop:
        ref = {"run_id": handle.run_id, "lease_version": state.lease_version}
        forwarding = self._forwarding(handle.control)
        if forwarding is not None:
            forwarding.attach(handle.run_id, handle.control, state.lease_version)
        catalog = await handle.control.tools_catalog(c.ToolsCatalogParams(**ref))
        extras = (
            await self.run_context(state, handle.control, catalog.tools) if self.run_context else RunExtras()
        )
        registry = ToolRegistry.build(extras.tools, catalog.tools, handle.control, state.policy)
        for type_, data in extras.events:
            self.log.append(handle.run_id, type_, data)
        for name in registry.shadowed:
            self.log.append(
                handle.run_id, "tool.shadowed", {"name": name, "winner": "local"}, key=f"tool.shadowed:{name}"
            )
        keys: dict[str, str] = {}
        if state.model.split(":", 1)[0] in ("openai", "anthropic", "openai-compatible", "takos"):
            keys = (await handle.control.secrets_api_keys(c.SecretsApiKeysParams(**ref))).keys
        model = self.model_factory(state.model, keys)
        # An in-process control plane shares DATA_DIR with the local checkpoints: nothing to mirror.
        remote = None if getattr(handle.control, "in_process", False) else RemoteCheckpoints(handle.control)
        deps = RunDeps(
            control=handle.control,
            log=self.log,
            checkpoints=self.checkpoints,
            model=model,
            registry=registry,
            templates=self.templates,
            build_prompt=extras.build_prompt,
            heartbeat_interval_s=self.config.heartbeat_interval_s,
            report_complete=functools.partial(self._report, handle),
            remote=remote,
        )
        return RunLoop(state, deps)

    async def _report(self, handle: RunHandle, state: RunState) -> None:
        """run.complete, after every event logged so far has reached the control plane."""
        forwarding = self._forwarding(handle.control)
        if forwarding is not None:
            if not forwarding.attached(state.run_id):
                forwarding.attach(state.run_id, handle.control, state.lease_version)
                await forwarding.publish(self.log.read(state.run_id, after=0, limit=1_000_000))
            await forwarding.flush(state.run_id)
        try:
            await handle.control.run_complete(
                c.RunCompleteParams(
                    run_id=state.run_id,
                    lease_version=state.lease_version,
                    status=state.status,
                    output=state.output,
                    error=state.error,
                    reason=state.reason,
                    usage=c.UsageRecord(**state.usage.model_dump()),
                    transcript=transcript_for_complete(state),
                )
            )
        except BridgeError as exc:
            logger.warning("run.complete failed for %s: %s", state.run_id, exc.name)

    async def _complete(self, handle: RunHandle, state: RunState, *, report: bool) -> None:
        """After the terminal event: (report,) forward the rest, release remote resources, forget the run."""
        ref = {"run_id": state.run_id, "lease_version": state.lease_version}
        if report:
            await self._report(handle, state)
        forwarding = self._forwarding(handle.control)
        if forwarding is not None:
            await forwarding.flush(state.run_id)
            await forwarding.detach(state.run_id)
        if handle.control is not self.control and self.release_control is not None:
            others = [
                h for h in self.runs.values() if h is not handle and h.control is handle.control and h.live
            ]
            if not others:
                await self.release_control(handle.control)
        try:
            await handle.control.tools_cleanup(c.ToolsCleanupParams(**ref))
        except BridgeError:
            pass
        self.log.forget(state.run_id)
        self.checkpoints.forget(state.run_id)
        handle.loop = None
        self._drop_finished()
        if self.on_finished is not None:
            await self.on_finished(state)

    def _drop_finished(self) -> None:
        """Keeps the registry bounded: the oldest finished runs leave memory (their log and checkpoint stay,
        and `get` reloads them on demand)."""
        finished = [rid for rid, h in self.runs.items() if h.state is not None and h.state.terminal]
        for run_id in finished[: max(0, len(finished) - MAX_FINISHED_IN_MEMORY)]:
            del self.runs[run_id]

    async def _fail_early(self, handle: RunHandle, message: str) -> None:
        """A run that failed before its loop started still gets exactly one terminal event, and the control
        plane hears of it (`run.complete`), so no run is left running anywhere."""
        state = handle.state
        if state is None:
            error = {"kind": "bootstrap", "message": message}
            forwarding = self._forwarding(handle.control)
            if forwarding is not None:
                forwarding.attach(handle.run_id, handle.control, handle.lease_version)
            self.log.append(handle.run_id, "run.failed", {"error": error}, key="terminal")
            await self.log.commit(handle.run_id)
            if forwarding is not None:
                await forwarding.flush(handle.run_id)
                await forwarding.detach(handle.run_id)
            try:
                await handle.control.run_complete(
                    c.RunCompleteParams(
                        run_id=handle.run_id,
                        lease_version=handle.lease_version,
                        status="failed",
                        error=error,
                        reason="bootstrap",
                    )
                )
            except BridgeError as exc:
                logger.warning("run.complete failed for %s: %s", handle.run_id, exc.name)
            return
        if not state.terminal:
            state.status = "failed"
            state.error = {"kind": "internal", "message": message}
            self.log.append(handle.run_id, "run.failed", {"error": state.error}, key="terminal")
            self.checkpoints.save(state)
            await self.log.commit(handle.run_id)
            await self._complete(handle, state, report=True)

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
            assert handle.task is not None
            await asyncio.wait({handle.task}, timeout=10)
        elif state is not None:  # suspended, or known only from its checkpoint: finish it here
            handle.cancel_reason = reason
            handle.task = asyncio.create_task(self._drive(handle), name=run_id)
            await asyncio.wait({handle.task}, timeout=10)
        return handle

    async def pause(self, run_id: str) -> RunHandle:
        handle = self.get(run_id)
        if handle.loop is None or handle.task is None or handle.task.done():
            raise RunError("conflict", f"run {run_id} is not running (status {self.status(handle)})")
        handle.loop.request_pause()
        return handle

    async def resume(self, run_id: str) -> RunHandle:
        handle = self.get(run_id)
        if handle.loop is None or not handle.loop._pause:
            raise RunError("conflict", f"run {run_id} is not paused (status {self.status(handle)})")
        handle.loop.request_resume()
        return handle

    async def continue_(self, req: ContinueRequest) -> RunHandle:
        handle = self.get(req.run_id)
        state = handle.state
        if state is None or state.status != "suspended" or not state.pending:
            raise RunError("conflict", f"run {req.run_id} is not waiting for an answer")
        first = state.pending[0]
        if len(state.pending) == 1 and not handle.live and self.active >= self.config.max_concurrent_runs:
            raise RunError(
                "capacity",
                "at capacity: answer again when a run finishes (nothing was recorded)",
                active=self.active,
                max=self.config.max_concurrent_runs,
            )
        if req.await_id != first.id:
            if any(p.id == req.await_id for p in state.pending):
                raise RunError("conflict", f"answer {first.id} first: awaits are answered in order")
            raise RunError(
                "not_found",
                f"run {req.run_id} has no pending await {req.await_id!r} (already answered, or never asked)",
            )
        if first.kind == "confirmation":
            decision = ConfirmationDecision.model_validate(req.decision)
            state.approvals[first.tool_call_id] = decision.approved
            self.log.append(
                state.run_id,
                "tool.authorization",
                {
                    "awaitId": first.id,
                    "toolCallId": first.tool_call_id,
                    "toolName": first.tool_name,
                    "approved": decision.approved,
                    "requestedBy": decision.requested_by,
                    "reason": decision.reason,
                    "labels": decision.labels,
                    "metadata": decision.metadata,
                },
                key=f"tool.authorization:{first.id}",
            )
            if not decision.approved:
                content = self.templates.render(
                    "denied_result",
                    tool_name=first.tool_name,
                    reason=decision.reason,
                    requested_by=decision.requested_by,
                )
                self._answer(state, first, content, denied=True)
        else:
            self._answer(state, first, ClarificationAnswer.model_validate(req.decision).answer)
        state.pending.pop(0)
        self.checkpoints.save(state)
        await self.log.commit(state.run_id)
        if not state.pending:
            if handle.live:  # the suspended loop may still be settling its last checkpoint
                assert handle.task is not None
                await asyncio.wait({handle.task}, timeout=30)
            handle.task = asyncio.create_task(self._drive(handle), name=state.run_id)
        return handle

    def _answer(self, state: RunState, item: PendingAwait, content: str, **flags: bool) -> None:
        """A person's answer becomes the tool call's (non-error) result, logged once."""
        state.batch_results[item.tool_call_id] = ToolResultPart(
            tool_use_id=item.tool_call_id, content=content
        )
        self.log.append(
            state.run_id,
            "tool.result",
            {
                "toolCallId": item.tool_call_id,
                "name": item.tool_name,
                "ok": True,
                "output": content,
                "error": None,
                **flags,
            },
            key=f"tool.result:{item.tool_call_id}",
        )

    async def _run_loop(self, handle: RunHandle, loop: RunLoop) -> None:
        # Every log record written by this task carries the run's ids (the context is per task).
        run_context.set({"runId": loop.state.run_id, "sessionId": loop.state.session_id})
        await loop.run()
        if loop.remote is not None:  # the control plane must hold the newest state, final ones included
            await loop.remote.settle(loop.state)
        if loop.state.terminal:
            await self._complete(handle, loop.state, report=False)

    def status(self, handle: RunHandle) -> str:
        if handle.state is not None:
            return handle.state.status
        return "pending"

    async def shutdown(self, grace_s: float) -> None:
        """SIGTERM: stop admitting; each run stops at its next step boundary (an in-flight model call is
        interrupted: it has no side effects) and checkpoints; whatever is still running after the grace
        period is cancelled. The runs resume elsewhere by lease."""
        self.accepting = False
        tasks = [h.task for h in self.runs.values() if h.task is not None and not h.task.done()]
        for handle in self.runs.values():
            if handle.live and handle.loop is not None:
                handle.loop.request_detach()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace_s)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=5)
