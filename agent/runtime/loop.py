"""The run loop: plan → execute tools → resume, one asyncio task per run.

The loop is driven by `RunState` alone, so the same code starts a run, continues it after a confirmation and
resumes it from a checkpoint after a crash. Every step ends at a boundary; the state is checkpointed in the
same transaction as the step's events. Steps that are safe to repeat (model calls, side-effect-free local
tools) commit within COMMIT_LATENCY_S, grouped; anything that cannot be repeated (a side effect, a remote
tool, waiting for a person, the end of the run) is preceded by an immediate commit. The state is a valid
resume point at every await, so a commit may happen at any of them. Cancel, pause and suspension act only at
boundaries (cancel also interrupts an in-flight model call).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from agent.eager import bounded
from agent.events.log import RunLog
from agent.models.base import ModelClient
from agent.models.events import EventEmittingModel
from agent.models.types import (
    MESSAGES_ADAPTER,
    Message,
    ModelRequest,
    ToolResultPart,
    ToolUsePart,
)
from agent.runtime.checkpoints import CheckpointStore
from agent.runtime.remote_checkpoints import RemoteCheckpoints
from agent.runtime.state import PendingAwait, RunState
from agent.runtime.templates import Templates
from agent.tools.execution import ToolOutcome, execute_batch, failure
from agent.tools.registry import ToolRegistry
from agent.tools.spec import ToolCallContext
from control_bridge import contract as c
from control_bridge.errors import BridgeError, LeaseLost
from control_bridge.protocol import ControlPlaneBase

logger = logging.getLogger(__name__)

ASK_USER = "ask_user"
CANCEL_POLL_INTERVAL_S = 1.0
COMMIT_LATENCY_S = 0.05
"""Longest a run's events and checkpoint wait to be committed (and seen by readers) while it does only work
that is safe to repeat; the steps inside the window share one transaction."""
SYSTEM_CORE = (
    "You are an agent running inside an agent container. Use the tools offered when they help; when you have "
    "what the user needs, answer plainly without calling tools."
)
FINALIZE_NOTES = {
    "tool_cap": "You have used all the tool calls this run allows.",
    "failure_cap": "Too many tool calls in a row have failed.",
    "time_budget": "The run's time budget is used up.",
}


class RunDetached(Exception):
    """Control-flow signal: the process is shutting down; the run stops at a boundary, checkpointed, and
    resumes elsewhere by lease (not a terminal state)."""


class RunStopped(Exception):
    """Control-flow signal: the run stops now with this status and reason (not an error)."""

    def __init__(self, status: str, reason: str, error: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.error = error


@dataclass
class PromptParts:
    """What the loop hands the prompt builder each turn."""

    state: RunState
    tools: list[Any]
    reminder: str | None
    finalizing: bool


PromptBuilder = Callable[[PromptParts], Awaitable[tuple[list[Message], dict[str, Any] | None]]]
"""Returns the messages for the next model call and, optionally, the `prompt.rendered` ledger."""


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
        self._cancel_reason: str | None = None
        self._pause = False
        self._resumed = asyncio.Event()
        self._task: asyncio.Task[Any] | None = None
        self._in_model_call = False
        self._in_remote_tools = False
        """The batch in flight is remote calls (and pure local ones): cancel may interrupt it, the control
        plane records the interrupted call's outcome (and tells an MCP server with notifications/cancelled)."""
        self._detach = False
        self._active_since: float | None = None
        self._last_cancel_poll = 0.0
        self._dirty = False
        """A step ended since the last checkpoint."""
        self._timer: asyncio.TimerHandle | None = None
        self._committing: asyncio.Task[None] | None = None
        """The commit the timer started (a commit in the loop's own task waits for it)."""
        self._writing = False
        self._model = EventEmittingModel(deps.model, self._emit_model_event)

    # --- signals from outside (run.cancel / run.pause / run.resume, heartbeat) ----------------------------
    def request_cancel(self, reason: str) -> None:
        if self._cancel_reason is None:
            self._cancel_reason = reason
        if (self._in_model_call or self._in_remote_tools) and self._task is not None:
            self._task.cancel()  # interrupts the in-flight model (or remote tool) call; the loop turns it into a stop
        self._resumed.set()

    def request_detach(self) -> None:
        """Shutdown: stop at the next boundary; an in-flight model call (no side effects) is interrupted."""
        self._detach = True
        if self._in_model_call and self._task is not None:
            self._task.cancel()
        self._resumed.set()

    def request_pause(self) -> None:
        self._pause = True
        self._resumed.clear()

    def request_resume(self) -> None:
        self._pause = False
        self._resumed.set()

    # --- events and checkpoints ---------------------------------------------------------------------------
    def emit(self, type_: str, data: dict[str, Any], *, key: str | None = None) -> None:
        self.deps.log.append(self.state.run_id, type_, data, key=key)
        if self._timer is None:
            self._commit_soon()

    def set_phase(self, phase: str) -> None:
        if self.state.phase != phase:
            self.emit("phase.changed", {"from": self.state.phase, "to": phase})
            self.state.phase = phase  # type: ignore[assignment]

    def boundary(self) -> None:
        """End of a step that is safe to repeat: it is committed within COMMIT_LATENCY_S."""
        self._dirty = True
        if self._timer is None:
            self._commit_soon()

    def _commit_soon(self) -> None:
        self._timer = asyncio.get_running_loop().call_later(COMMIT_LATENCY_S, self._commit_due)

    def _commit_due(self) -> None:
        self._timer = None
        if self._writing:  # a commit is publishing: its successor waits, so the run's events stay in order
            self._commit_soon()
        else:
            self._committing = asyncio.create_task(self._write())
            self._committing.add_done_callback(self._committed)

    def _committed(self, task: asyncio.Task[None]) -> None:
        """A failed background commit rolled back and left everything pending: the next commit retries it
        (and, if it fails too before something irreversible, fails the run in the loop's own task)."""
        if not task.cancelled() and (exc := task.exception()) is not None:
            logger.warning("commit of run %s failed (%s); retrying with the next one", self.state.run_id, exc)
            if self._timer is None:
                self._commit_soon()

    async def commit(self) -> None:
        """Commits now: the checkpoint (if a step ended since the last one) with the run's events, then
        publishes them. Called before anything that cannot be repeated."""
        running = self._committing
        if running is not None and not running.done():
            await asyncio.wait((running,))  # (a failure there left everything pending for this one)
        await self._write()

    async def _write(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        s = self.state
        self._writing = True
        try:
            checkpointed = self._dirty
            if checkpointed:
                self._dirty = False
                self._account_time()
                s.last_sequence = self.deps.log.last_sequence(s.run_id)
                self.deps.checkpoints.save(s)
            try:
                await self.deps.log.commit(s.run_id)
            except BaseException:
                if checkpointed:  # rolled back with the events: write it again next time
                    self._dirty = True
                    self.deps.checkpoints.forget(s.run_id)
                raise
            if checkpointed and self.deps.remote is not None:
                await self.deps.remote.on_step(s)
        finally:
            self._writing = False

    def _account_time(self) -> None:
        now = time.monotonic()
        if self._active_since is not None:
            self.state.active_s += now - self._active_since
            self._active_since = now

    def remaining_s(self) -> float:
        """Time budget left: active time only (the clock stops while paused or suspended)."""
        since = self._active_since
        active = self.state.active_s + (time.monotonic() - since if since is not None else 0.0)
        return self.state.policy.time_budget_s - active

    # --- the loop -----------------------------------------------------------------------------------------
    async def run(self) -> RunState:
        """Runs until the run finishes, suspends, or is stopped; returns the state at that point."""
        s = self.state
        self._active_since = time.monotonic()
        self._last_cancel_poll = self._active_since
        if s.terminal:
            return s
        self._task = asyncio.current_task()
        if s.status == "paused":  # paused is durable: a restart or a new lease does not resume it
            self._pause = True
            self._resumed.clear()
        heartbeat = Heartbeat(self)
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
                    await self._tools_step()
                    continue
                if s.output is not None:
                    await self._finish("completed")
                    return s
                await self._model_step()
        except RunDetached:
            self.boundary()
            await self.commit()
            return s
        except RunStopped as stop:
            await self._finish(stop.status, reason=stop.reason, error=stop.error)
        except LeaseLost:
            await self._finish("canceled", reason="lease_lost")
        except asyncio.CancelledError:
            # The task itself was cancelled (shutdown): checkpoint what we have; the run resumes elsewhere.
            self.boundary()
            await self.commit()
            raise
        except Exception as exc:
            logger.exception("run %s failed", s.run_id)
            await self._finish(
                "failed", error={"kind": "internal", "message": f"{type(exc).__name__}: {exc}"}
            )
        finally:
            heartbeat.stop()
            if self._timer is not None:  # (every way out commits first; this only stops the clock)
                self._timer.cancel()
                self._timer = None
            self._account_time()
            self._active_since = None
        return s

    async def _check_signals(self) -> None:
        if (
            self._cancel_reason is None
            and time.monotonic() - self._last_cancel_poll >= CANCEL_POLL_INTERVAL_S
        ):
            self._last_cancel_poll = time.monotonic()
            try:
                result = await self.deps.control.run_is_cancelled(
                    c.RunIsCancelledParams(run_id=self.state.run_id, lease_version=self.state.lease_version)
                )
                if result.cancelled:
                    self._cancel_reason = result.reason or "user_requested"
            except LeaseLost:
                raise
            except BridgeError as exc:
                logger.warning("run.isCancelled failed for %s: %s", self.state.run_id, exc.name)
        if self._cancel_reason is not None:
            raise RunStopped("canceled", self._cancel_reason)
        if self._detach:
            raise RunDetached()
        if self._pause:
            await self._paused()

    @property
    def remote(self) -> RemoteCheckpoints | None:
        return self.deps.remote

    async def _paused(self) -> None:
        s = self.state
        if s.status != "paused":  # (already paused when resumed from a paused checkpoint)
            s.status = "paused"
            self.emit("run.paused", {"phase": s.phase})
            self.boundary()
            await self.commit()
            if self.deps.remote is not None:
                await self.deps.remote.settle(s)
        self._account_time()
        self._active_since = None  # suspended time does not count against the budget
        await self._resumed.wait()
        self._active_since = time.monotonic()
        if self._cancel_reason is not None:
            raise RunStopped("canceled", self._cancel_reason)
        if self._detach:
            raise RunDetached()
        s.status = "running"
        self.emit("run.resumed", {"phase": s.phase})
        self.boundary()
        await self.commit()

    async def heartbeat(self) -> bool:
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

    # --- model step ---------------------------------------------------------------------------------------
    def _reminder(self) -> str | None:
        s = self.state
        budget = s.policy.time_budget_s
        left = max(0.0, self.remaining_s())
        text = f"Time left in this run: {left:.0f}s of {budget:.0f}s."
        if not s.wrap_up_sent and left <= 0.2 * budget:
            s.wrap_up_sent = True
            self.emit("run.reminder", {"kind": "wrap_up", "remainingS": round(left, 1)})
            text += " You have used 80% of the time: wrap up now and give your answer."
        return text

    async def _request(self, finalizing: bool) -> ModelRequest:
        s = self.state
        tools = [] if finalizing else self.deps.registry.definitions(exclude=s.removed_tools)
        if s.removed_tools:  # `replan` takes a tool away for the next turn only
            s.removed_tools = []
        reminder = self._reminder()
        if finalizing and s.finalize_reason:
            reminder = (
                f"{FINALIZE_NOTES[s.finalize_reason]} Give your final answer now, without tools, "
                f"from what you have. ({reminder})"
            )
        if self.deps.build_prompt is not None:
            messages, rendered = await self.deps.build_prompt(PromptParts(s, tools, reminder, finalizing))
            if rendered is not None:
                self.emit("prompt.rendered", rendered)
        else:
            system = s.system_prompt or SYSTEM_CORE
            messages = [Message.text("system", f"{system}\n\n{reminder}"), *s.transcript]
        return ModelRequest(
            messages=messages,
            tools=tools,
            tool_choice="none" if finalizing else "auto",
            temperature=s.temperature,
            max_tokens=s.max_tokens,
            run_id=s.run_id,
        )

    async def _model_step(self) -> None:
        s = self.state
        finalizing = s.finalize_reason is not None
        if not finalizing and self.remaining_s() <= 0:
            self._start_finalization("time_budget")
            finalizing = True
        self.set_phase("synthesizing" if finalizing else "planning")
        request = await self._request(finalizing)
        limit = s.policy.finalizer_grace_s if finalizing else max(0.001, self.remaining_s())
        turn = s.turn
        self._in_model_call = True
        try:
            response = await bounded(self._model.complete(request, turn=turn), limit)
        except TimeoutError:
            if finalizing:
                raise RunStopped("failed", "finalization_timeout") from None
            self._start_finalization("time_budget")
            self.boundary()
            return
        except asyncio.CancelledError:
            if self._cancel_reason is not None and self._task is not None:
                self._task.uncancel()
                raise RunStopped("canceled", self._cancel_reason) from None
            if self._detach and self._task is not None:
                self._task.uncancel()
                raise RunDetached() from None
            raise
        except Exception as exc:
            if self._cancel_reason is not None:
                raise RunStopped("canceled", self._cancel_reason) from None
            raise RunStopped("failed", "model_error", _model_error(exc)) from None
        finally:
            self._in_model_call = False
        s.turn += 1
        s.step += 1
        s.usage.model_calls += 1
        s.usage.input_tokens += response.usage.input_tokens
        s.usage.output_tokens += response.usage.output_tokens
        if response.usage.cached_input_tokens:  # (pydantic attribute writes are not free: skip the no-ops)
            s.usage.cached_input_tokens += response.usage.cached_input_tokens
        message = response.message
        calls = message.tool_uses
        if finalizing and calls:
            # Tools were not offered; keep the text, drop the calls so the transcript stays valid.
            message = Message(role="assistant", parts=[p for p in message.parts if p.kind != "tool_use"])
            calls = []
        s.transcript.append(message)
        self.emit(
            "assistant.message",
            {
                "turn": turn,
                "text": message.text_content,
                "toolCalls": [{"id": t.id, "name": t.name, "arguments": t.arguments} for t in calls],
            },
            key=f"assistant.message:{turn}",
        )
        if not calls:
            s.output = message.text_content
            if finalizing and not s.output.strip():
                raise RunStopped("failed", "finalization_empty")
            self.set_phase("synthesizing")
        elif s.tool_calls_used + len(calls) > s.policy.max_tool_calls:
            self._refuse_batch(calls)
        else:
            s.tool_calls_used += len(calls)
            for call in calls:
                self.emit(
                    "tool.scheduled",
                    {"turn": turn, "toolCallId": call.id, "name": call.name, "arguments": call.arguments},
                    key=f"tool.scheduled:{call.id}",
                )
        self.boundary()

    async def _emit_model_event(self, kind: str, data: dict[str, Any]) -> None:
        self.emit(kind, data)  # (streamed deltas reach readers within COMMIT_LATENCY_S)

    def _start_finalization(self, reason: str) -> None:
        if self.state.finalize_reason is None:
            self.state.finalize_reason = reason  # type: ignore[assignment]
            self.emit("run.finalizing", {"reason": reason}, key="run.finalizing")

    def _refuse_batch(self, calls: list[ToolUsePart]) -> None:
        s = self.state
        left = s.policy.max_tool_calls - s.tool_calls_used
        parts = []
        for call in calls:
            outcome = failure(
                call,
                "domain_rejection",
                f"refused: this batch of {len(calls)} tool calls exceeds the run's tool-call cap "
                f"({s.policy.max_tool_calls}, {left} left); no call in it was run",
                "finish",
            )
            parts.append(ToolResultPart(tool_use_id=call.id, content=outcome.content, is_error=True))
            self.emit(
                "tool.result",
                {
                    "turn": s.turn - 1,
                    "toolCallId": call.id,
                    "name": call.name,
                    "ok": False,
                    "output": outcome.content,
                    "error": outcome.error,
                    "refused": True,
                },
                key=f"tool.result:{call.id}",
            )
        s.transcript.append(Message(role="tool", parts=parts))
        self._start_finalization("tool_cap")

    # --- tools step ---------------------------------------------------------------------------------------
    def _needs_confirmation(self, call: ToolUsePart) -> bool:
        tool = self.deps.registry.get(call.name)
        if tool is None:
            return False
        return tool.spec.requires_confirmation or call.name in self.state.policy.require_confirmation

    def _harmless(self, call: ToolUsePart) -> bool:
        """Safe to run again after a crash, and runs without asking anyone: a pure local tool."""
        tool = self.deps.registry.get(call.name)
        return (
            tool is not None
            and not tool.spec.side_effects
            and tool.spec.source == "local"
            and call.name != ASK_USER
            and not self._needs_confirmation(call)
        )

    def _interruptible(self, call: ToolUsePart) -> bool:
        """A remote call, or a pure local one: cancelling it mid-flight leaves nothing half-done here."""
        tool = self.deps.registry.get(call.name)
        return tool is None or tool.spec.source == "remote" or not tool.spec.side_effects

    async def _tools_step(self) -> None:
        s = self.state
        calls = s.open_tool_uses()
        self.set_phase("executing_tools")
        waiting: list[ToolUsePart] = []
        runnable: list[ToolUsePart] = []
        for call in calls:
            if call.id in s.batch_results:
                continue
            if call.name == ASK_USER and s.policy.interrupts_allowed and call.raw_arguments is None:
                waiting.append(call)
            elif self._needs_confirmation(call) and call.id not in s.approvals:
                waiting.append(call)
            else:
                runnable.append(call)
        if runnable:
            if not all(self._harmless(call) for call in runnable):
                await self.commit()  # the plan is durable before anything that cannot be repeated runs
            self._in_remote_tools = all(self._interruptible(call) for call in runnable)
            try:
                await execute_batch(self.deps.registry, runnable, self._ctx, self._record, self.remaining_s)
            except asyncio.CancelledError:
                if self._in_remote_tools and self._cancel_reason is not None and self._task is not None:
                    self._task.uncancel()
                    raise RunStopped("canceled", self._cancel_reason) from None
                raise
            finally:
                self._in_remote_tools = False
        if waiting:
            for call in waiting:
                s.pending.append(self._await_for(call))
            return  # the next loop iteration suspends
        results = [s.batch_results[call.id] for call in calls]
        s.transcript.append(Message(role="tool", parts=results))
        failed = sum(1 for r in results if r.is_error)
        s.consecutive_failures = s.consecutive_failures + 1 if failed == len(results) else 0
        if s.batch_results:
            s.batch_results = {}
        if s.approvals:
            s.approvals = {}
        s.step += 1
        if s.consecutive_failures >= s.policy.max_consecutive_failed_tool_calls:
            self._start_finalization("failure_cap")
        self.boundary()

    def _ctx(self, call: ToolUsePart) -> ToolCallContext:
        s = self.state
        if self._cancel_reason == "lease_lost":
            raise LeaseLost("lease lost: no further tool calls")
        return ToolCallContext(
            run_id=s.run_id,
            session_id=s.session_id,
            turn_id=s.turn,
            tool_call_id=call.id,
            space_id=s.space_id,
            thread_id=s.thread_id,
            lease_version=s.lease_version,
            step=s.step,
            locale=s.locale,
        )

    async def _record(self, outcome: ToolOutcome) -> None:
        s = self.state
        s.usage.tool_calls += 1
        if not outcome.ok and outcome.error and outcome.error.get("hint") == "replan":
            if outcome.name not in s.removed_tools and self.deps.registry.get(outcome.name) is not None:
                s.removed_tools.append(outcome.name)
        s.batch_results[outcome.tool_call_id] = ToolResultPart(
            tool_use_id=outcome.tool_call_id, content=outcome.content, is_error=not outcome.ok
        )
        self.emit(
            "tool.result",
            {
                "turn": s.turn - 1,
                "toolCallId": outcome.tool_call_id,
                "name": outcome.name,
                "ok": outcome.ok,
                "output": outcome.content,
                "error": outcome.error,
            },
            key=f"tool.result:{outcome.tool_call_id}",
        )
        # A finished local side effect is durable at once, so a crash never repeats it. Everything else is
        # committed with the batch: pure tools are harmless to re-run, and a remote call re-sent after a crash
        # carries the same idempotency key, so the control plane answers with the recorded result.
        tool = self.deps.registry.get(outcome.name)
        if tool is not None and tool.spec.side_effects and tool.spec.source == "local":
            self.boundary()
            await self.commit()

    def _await_for(self, call: ToolUsePart) -> PendingAwait:
        if call.name == ASK_USER:
            question = str(call.arguments.get("question", "")) or "The agent has a question."
            return PendingAwait(
                id=f"await-{call.id}",
                kind="clarification",
                tool_call_id=call.id,
                tool_name=call.name,
                title="The agent asks",
                prompt=question,
                payload={"arguments": call.arguments},
            )
        ctx = {"tool_name": call.name, "tool_call_id": call.id, "arguments": call.arguments}
        return PendingAwait(
            id=f"await-{call.id}",
            kind="confirmation",
            tool_call_id=call.id,
            tool_name=call.name,
            title=self.deps.templates.render("confirmation_title", **ctx),
            prompt=self.deps.templates.render("confirmation_prompt", **ctx),
            payload={"arguments": call.arguments},
        )

    async def _suspend(self) -> None:
        s = self.state
        s.status = "suspended"
        self.set_phase("awaiting")
        for item in s.pending:
            kind = "await.confirmation" if item.kind == "confirmation" else "await.clarification"
            self.emit(
                kind,
                {
                    "id": item.id,
                    "title": item.title,
                    "prompt": item.prompt,
                    "toolName": item.tool_name,
                    "toolCallId": item.tool_call_id,
                    "payload": item.payload,
                },
                key=f"{kind}:{item.id}",
            )
        self.emit(
            "run.suspended", {"pending": [p.id for p in s.pending]}, key=f"run.suspended:{s.pending[0].id}"
        )
        self.boundary()
        await self.commit()

    # --- the end ------------------------------------------------------------------------------------------
    async def _finish(
        self, status: str, *, reason: str | None = None, error: dict[str, Any] | None = None
    ) -> None:
        s = self.state
        if s.terminal:
            return
        if error is None and status == "failed":
            error = {"kind": reason, "message": reason}
        if self.deps.report_complete is not None:
            # The control plane hears first (it records the answer in the thread); only then is the terminal
            # event logged, so a client that sees it and sends the next message finds this answer in the
            # history. A crash in between resumes into _finish again, and run.complete is idempotent.
            await self.commit()  # (the answer it is told is durable here first)
            final = s.model_copy(update={"status": status, "reason": reason, "error": error, "pending": []})
            await self.deps.report_complete(final)
        s.status = status  # type: ignore[assignment]
        s.reason = reason
        s.error = error
        s.pending = []
        self.set_phase(status)
        data: dict[str, Any]
        if status == "completed":
            data = {"output": s.output or "", "usage": s.usage.model_dump(by_alias=True)}
        elif status == "failed":
            data = {"error": s.error, "usage": s.usage.model_dump()}
        else:
            data = {"reason": reason or "user_requested", "usage": s.usage.model_dump()}
        self.emit(f"run.{status}", data, key="terminal")
        self.boundary()
        await self.commit()


class Heartbeat:
    """run.heartbeat every `heartbeat_interval_s` while the loop runs: a timer, and a task only while a beat
    is in flight (most runs end before the first beat is due)."""

    def __init__(self, loop: RunLoop) -> None:
        self._loop = loop
        self._task: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._arm()

    def _arm(self) -> None:
        interval = self._loop.deps.heartbeat_interval_s
        self._timer = asyncio.get_running_loop().call_later(interval, self._due)

    def _due(self) -> None:
        self._task = asyncio.create_task(self._beat())

    async def _beat(self) -> None:
        if await self._loop.heartbeat():
            self._arm()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._task is not None:
            self._task.cancel()


def _model_error(exc: Exception) -> dict[str, Any]:
    kind = getattr(exc, "kind", None) or "model_error"
    return {
        "kind": str(kind),
        "message": f"the model call failed: {str(exc)[:500]}",
        "provider": getattr(exc, "provider", None),
        "status": getattr(exc, "status", None),
    }


def transcript_for_complete(state: RunState) -> list[dict[str, Any]]:
    return MESSAGES_ADAPTER.dump_python(
        state.transcript, mode="json"
    )  # (one call: half the per-message cost)
