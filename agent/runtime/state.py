"""RunState: everything needed to resume a run, checkpointed after every step.

The state is camelCase when dumped (the checkpoint the control plane stores is opaque to it, but still one
spelling). A checkpoint written by an older version (snake_case, seconds) is read through `_upgrade`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AliasChoices, Field, model_validator

from agent.events.payloads import FinalizeReason, Phase
from agent.models.types import Message, ToolResultPart, ToolUsePart
from agent.runtime.policy import RunPolicy
from control_bridge.contract import TERMINAL_STATUSES, RunErrorInfo, RunStatus, UsageRecord
from control_bridge.wire import WireModel


class PendingAwait(WireModel):
    """Something the run waits for from a person: a confirmation or a clarification."""

    await_id: str = Field(
        validation_alias=AliasChoices("awaitId", "await_id", "id"), serialization_alias="awaitId"
    )
    kind: Literal["confirmation", "clarification"]
    tool_call_id: str
    tool_name: str
    title: str = ""
    prompt: str = ""
    payload: dict[str, Any] = Field(default_factory=dict)


class RunState(WireModel):
    run_id: str
    session_id: str
    thread_id: str
    space_id: str = "default"
    agent_type: str = "default"
    input: str = ""
    labels: dict[str, str] = Field(default_factory=dict)
    lease_version: int = 0
    model: str = ""
    system_prompt: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    locale: str | None = None

    status: RunStatus = "pending"
    phase: Phase = "prompted"
    turn: int = 0
    step: int = 0
    transcript: list[Message] = Field(default_factory=list)
    input_index: int = -1
    """Where this run's user message sits in the transcript: before it is thread history, after it the run."""
    tool_calls_used: int = 0
    consecutive_failures: int = 0
    removed_tools: list[str] = Field(default_factory=list)
    batch_results: dict[str, ToolResultPart] = Field(default_factory=dict)
    """Results of the current batch so far, by tool call id (survive a suspension mid-batch)."""
    approvals: dict[str, bool] = Field(default_factory=dict)
    pending: list[PendingAwait] = Field(default_factory=list)
    active_ms: int = 0
    """Active time used so far (the clock stops while paused or suspended)."""
    finalize_reason: FinalizeReason | None = None
    wrap_up_sent: bool = False
    usage: UsageRecord = Field(default_factory=UsageRecord)
    policy: RunPolicy = Field(default_factory=RunPolicy)
    output: str | None = None
    error: RunErrorInfo | None = None
    reason: str | None = None
    checkpoint_version: int = 0
    last_sequence: int = 0
    """The run log's last sequence when checkpointed: a container resuming from the control plane's copy,
    with no local log, continues the numbering instead of restarting at 1."""

    @model_validator(mode="before")
    @classmethod
    def _upgrade(cls, data: Any) -> Any:
        """Schema-2 checkpoints kept seconds (`active_s`) and a dead `failures_this_batch`."""
        if isinstance(data, dict) and "active_s" in data:
            data = dict(data)
            data["active_ms"] = round(float(data.pop("active_s")) * 1000)
            data.pop("failures_this_batch", None)
        return data

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    def open_tool_uses(self) -> list[ToolUsePart]:
        """Tool calls of the last assistant message that no tool message answers yet."""
        if not self.transcript or self.transcript[-1].role != "assistant":
            return []
        return self.transcript[-1].tool_uses
