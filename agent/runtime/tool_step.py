"""The tool step: admit the open calls, run the admitted ones, record every result once.

Calls that wait for a person become pending awaits (the run suspends after the step); the others run as
one batch (side-effect-free ones concurrently). The plan is committed before anything that cannot be
repeated runs, and a finished local side effect is committed at once, so a crash never repeats it.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from agent.models.types import Message, Part, ToolUsePart
from agent.runtime.model_step import start_finalization
from agent.runtime.signals import AwaitRequired, RunStopped
from agent.tools.execution import ToolOutcome, execute_batch
from agent.tools.spec import ToolCallContext
from control_bridge.errors import LeaseLost

if TYPE_CHECKING:
    from agent.runtime.loop import RunLoop


async def tools_step(loop: RunLoop) -> None:
    s = loop.state
    toolset = loop.toolset
    calls = s.open_tool_uses()
    loop.set_phase("executing_tools")
    runnable: list[ToolUsePart] = []
    for call in calls:
        if call.id in s.batch_results:
            continue
        try:
            toolset.admit(call, s)
        except AwaitRequired as wait:
            s.pending.append(wait.pending)
        else:
            runnable.append(call)
    if runnable:
        if not all(toolset.harmless(call, s) for call in runnable):
            await loop.commits.commit()  # the plan is durable before anything that cannot be repeated runs
        loop.in_remote_tools = all(_interruptible(loop, call) for call in runnable)
        try:
            await execute_batch(
                loop.deps.registry,
                runnable,
                lambda call: _context(loop, call),
                lambda outcome: _record(loop, outcome),
                loop.clock.remaining_s,
            )
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if loop.in_remote_tools and loop.cancel_reason is not None and task is not None:
                task.uncancel()
                raise RunStopped("canceled", loop.cancel_reason) from None
            raise
        finally:
            loop.in_remote_tools = False
    if s.pending:
        return  # the loop suspends next
    results = [s.batch_results[call.id] for call in calls]
    parts: list[Part] = list(results)
    s.transcript.append(Message(role="tool", parts=parts))
    failed = sum(1 for r in results if r.is_error)
    s.consecutive_failures = s.consecutive_failures + 1 if failed == len(results) else 0
    if s.batch_results:
        s.batch_results = {}
    if s.approvals:
        s.approvals = {}
    s.step += 1
    if s.consecutive_failures >= s.policy.max_consecutive_failed_tool_calls:
        start_finalization(loop, "failure_cap")
    loop.commits.boundary()


def _interruptible(loop: RunLoop, call: ToolUsePart) -> bool:
    """A remote call, or a pure local one: cancelling it mid-flight leaves nothing half-done here (a long
    MCP call would otherwise hold run.cancel until it finished)."""
    tool = loop.deps.registry.get(call.name)
    return tool is None or tool.spec.source == "remote" or not tool.spec.side_effects


def _context(loop: RunLoop, call: ToolUsePart) -> ToolCallContext:
    s = loop.state
    if loop.cancel_reason == "lease_lost":
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


async def _record(loop: RunLoop, outcome: ToolOutcome) -> None:
    s = loop.state
    registry = loop.deps.registry
    s.usage.tool_calls += 1
    error = outcome.error
    if error is not None and error.hint == "replan":
        if outcome.name not in s.removed_tools and registry.get(outcome.name) is not None:
            s.removed_tools.append(outcome.name)
    s.batch_results[outcome.tool_call_id] = outcome.part()
    loop.commits.emit(outcome.event(s.turn - 1), key=f"tool.result:{outcome.tool_call_id}")
    # A finished local side effect is durable at once, so a crash never repeats it. Everything else is
    # committed with the batch: pure tools are harmless to re-run, and a remote call re-sent after a crash
    # carries the same idempotency key, so the control plane answers with the recorded result.
    tool = registry.get(outcome.name)
    if tool is not None and tool.spec.side_effects and tool.spec.source == "local":
        loop.commits.boundary()
        await loop.commits.commit()
