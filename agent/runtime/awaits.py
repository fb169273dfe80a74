"""Answering what a suspended run waits for: a confirmation decision or a clarification answer.

Awaits are answered in order, each once. A person's answer becomes the tool call's (non-error) result; a
denial becomes a schema-valid "denied" result rendered from a strict template, so the model can go on.
"""

from __future__ import annotations

from agent.events.log import RunLog
from agent.events.payloads import ToolAuthorization
from agent.runtime.checkpoints import CheckpointStore
from agent.runtime.requests import ClarificationAnswer, ConfirmationDecision, ContinueRequest, RunError
from agent.runtime.state import PendingAwait, RunState
from agent.runtime.templates import Templates
from agent.tools.execution import ToolOutcome


def first_pending(state: RunState | None, req: ContinueRequest) -> PendingAwait:
    """The await `req` answers, or the RunError that says why it cannot."""
    if state is None or state.status != "suspended" or not state.pending:
        raise RunError("conflict", f"run {req.run_id} is not waiting for an answer")
    first = state.pending[0]
    if req.await_id != first.await_id:
        if any(p.await_id == req.await_id for p in state.pending):
            raise RunError("conflict", f"answer {first.await_id} first: awaits are answered in order")
        raise RunError(
            "not_found",
            f"run {req.run_id} has no pending await {req.await_id!r} (already answered, or never asked)",
        )
    return first


async def answer(
    state: RunState, req: ContinueRequest, log: RunLog, checkpoints: CheckpointStore, templates: Templates
) -> None:
    """Records the answer to the first pending await, durably (checkpoint and events in one commit)."""
    first = first_pending(state, req)
    if first.kind == "confirmation":
        decision = ConfirmationDecision.model_validate(req.decision)
        state.approvals[first.tool_call_id] = decision.approved
        log.append(
            state.run_id,
            ToolAuthorization(
                await_id=first.await_id,
                tool_call_id=first.tool_call_id,
                tool_name=first.tool_name,
                approved=decision.approved,
                requested_by=decision.requested_by,
                reason=decision.reason,
                labels=decision.labels,
                metadata=decision.metadata,
            ),
            key=f"tool.authorization:{first.await_id}",
        )
        if not decision.approved:
            content = templates.render(
                "denied_result",
                tool_name=first.tool_name,
                reason=decision.reason,
                requested_by=decision.requested_by,
            )
            _record(state, log, first, content, denied=True)
    else:
        _record(state, log, first, ClarificationAnswer.model_validate(req.decision).answer)
    state.pending.pop(0)
    checkpoints.save(state)
    await log.commit(state.run_id)


def _record(state: RunState, log: RunLog, item: PendingAwait, content: str, *, denied: bool = False) -> None:
    outcome = ToolOutcome(item.tool_call_id, item.tool_name, True, content)
    state.batch_results[item.tool_call_id] = outcome.part()
    log.append(state.run_id, outcome.event(None, denied=denied), key=f"tool.result:{item.tool_call_id}")
