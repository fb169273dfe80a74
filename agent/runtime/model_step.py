"""The model step: build the request, call the model within the time budget, record what it answered.

A batch of tool calls is admitted whole or refused whole against the tool-call cap; hitting a limit starts a
finalization turn (no tools, the reason given, bounded by the finalizer grace).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from agent._prompt_sections import SYSTEM_CORE, WRAP_UP_AT, time_line
from agent.eager import bounded
from agent.events.payloads import (
    AssistantMessage,
    FinalizeReason,
    RunFinalizing,
    RunReminder,
    ToolCallView,
    ToolScheduled,
)
from agent.models.types import Message, ModelRequest, Part, ToolUsePart
from agent.runtime.prompting import PromptParts
from agent.runtime.signals import RunDetached, RunStopped
from agent.tools.execution import failure
from control_bridge.contract import RunErrorInfo
from control_bridge.wire import to_ms

if TYPE_CHECKING:
    from agent.runtime.loop import RunLoop

FINALIZE_NOTES: dict[str, str] = {
    "tool_cap": "You have used all the tool calls this run allows.",
    "failure_cap": "Too many tool calls in a row have failed.",
    "time_budget": "The run's time budget is used up.",
}


async def model_step(loop: RunLoop) -> None:
    s = loop.state
    finalizing = s.finalize_reason is not None
    if not finalizing and loop.clock.remaining_s() <= 0:
        start_finalization(loop, "time_budget")
        finalizing = True
    loop.set_phase("synthesizing" if finalizing else "planning")
    request = await _request(loop, finalizing)
    limit = s.policy.finalizer_grace_s if finalizing else max(0.001, loop.clock.remaining_s())
    turn = s.turn
    loop.in_model_call = True
    try:
        response = await bounded(loop.model.complete(request, turn=turn), limit)
    except TimeoutError:
        if finalizing:
            raise RunStopped("failed", "finalization_timeout") from None
        start_finalization(loop, "time_budget")
        loop.commits.boundary()
        return
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if loop.cancel_reason is not None and task is not None:
            task.uncancel()
            raise RunStopped("canceled", loop.cancel_reason) from None
        if loop.detaching and task is not None:
            task.uncancel()
            raise RunDetached() from None
        raise
    except Exception as exc:
        if loop.cancel_reason is not None:
            raise RunStopped("canceled", loop.cancel_reason) from None
        raise RunStopped("failed", "model_error", model_error(exc)) from None
    finally:
        loop.in_model_call = False
    s.turn += 1
    s.step += 1
    usage = s.usage
    usage.model_calls += 1
    usage.input_tokens += response.usage.input_tokens
    usage.output_tokens += response.usage.output_tokens
    if response.usage.cached_input_tokens:  # (pydantic attribute writes are not free: skip the no-ops)
        usage.cached_input_tokens += response.usage.cached_input_tokens
    message = response.message
    calls = message.tool_uses
    if finalizing and calls:
        # Tools were not offered; keep the text, drop the calls so the transcript stays valid.
        message = Message(role="assistant", parts=[p for p in message.parts if p.kind != "tool_use"])
        calls = []
    s.transcript.append(message)
    loop.commits.emit(
        AssistantMessage(
            turn=turn,
            text=message.text_content,
            tool_calls=[ToolCallView(id=t.id, name=t.name, arguments=t.arguments) for t in calls],
        ),
        key=f"assistant.message:{turn}",
    )
    if not calls:
        s.output = message.text_content
        if finalizing and not s.output.strip():
            raise RunStopped("failed", "finalization_empty")
        loop.set_phase("synthesizing")
    elif s.tool_calls_used + len(calls) > s.policy.max_tool_calls:
        _refuse_batch(loop, calls)
    else:
        s.tool_calls_used += len(calls)
        for call in calls:
            loop.commits.emit(
                ToolScheduled(turn=turn, tool_call_id=call.id, tool_name=call.name, arguments=call.arguments),
                key=f"tool.scheduled:{call.id}",
            )
    loop.commits.boundary()


def _reminder(loop: RunLoop) -> str:
    s = loop.state
    budget = s.policy.time_budget_s
    left = max(0.0, loop.clock.remaining_s())
    if not s.wrap_up_sent and budget > 0 and left <= (1 - WRAP_UP_AT) * budget:
        s.wrap_up_sent = True
        loop.commits.emit(RunReminder(kind="wrap_up", remaining_ms=to_ms(left)))
    return time_line(left, budget)


async def _request(loop: RunLoop, finalizing: bool) -> ModelRequest:
    s = loop.state
    tools = [] if finalizing else loop.deps.registry.definitions(exclude=s.removed_tools)
    if s.removed_tools:  # `replan` takes a tool away for the next turn only
        s.removed_tools = []
    reminder = _reminder(loop)
    if finalizing and s.finalize_reason:
        reminder = (
            f"{FINALIZE_NOTES[s.finalize_reason]} Give your final answer now, without tools, "
            f"from what you have. ({reminder})"
        )
    build = loop.deps.build_prompt
    if build is not None:
        messages, rendered = await build(PromptParts(s, tools, reminder, finalizing))
        if rendered is not None:
            loop.commits.emit(rendered)
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


def start_finalization(loop: RunLoop, reason: FinalizeReason) -> None:
    if loop.state.finalize_reason is None:
        loop.state.finalize_reason = reason
        loop.commits.emit(RunFinalizing(reason=reason), key="run.finalizing")


def _refuse_batch(loop: RunLoop, calls: list[ToolUsePart]) -> None:
    s = loop.state
    left = s.policy.max_tool_calls - s.tool_calls_used
    parts: list[Part] = []
    for call in calls:
        outcome = failure(
            call,
            "domain_rejection",
            f"refused: this batch of {len(calls)} tool calls exceeds the run's tool-call cap "
            f"({s.policy.max_tool_calls}, {left} left); no call in it was run",
            "finish",
        )
        parts.append(outcome.part())
        loop.commits.emit(outcome.event(s.turn - 1, refused=True), key=f"tool.result:{call.id}")
    s.transcript.append(Message(role="tool", parts=parts))
    start_finalization(loop, "tool_cap")


def model_error(exc: Exception) -> RunErrorInfo:
    kind = getattr(exc, "kind", None) or "model_error"
    status = getattr(exc, "status", None)
    return RunErrorInfo(
        kind=str(kind),
        message=f"the model call failed: {str(exc)[:500]}",
        provider=getattr(exc, "provider", None),
        status=status if isinstance(status, int) else None,
    )
