"""RunState: everything needed to resume a run, checkpointed after every step."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from agent.models.types import Message, ToolResultPart
from agent.runtime.policy import RunPolicy

Phase = Literal[
    "prompted", "planning", "executing_tools", "synthesizing", "awaiting", "completed", "failed", "canceled"
]
Status = Literal["pending", "running", "paused", "suspended", "completed", "failed", "canceled"]
FinalizeReason = Literal["tool_cap", "failure_cap", "time_budget"]
TERMINAL: frozenset[str] = frozenset({"completed", "failed", "canceled"})


class PendingAwait(BaseModel):
    """Something the run waits for from a person: a confirmation or a clarification."""

    id: str
    kind: Literal["confirmation", "clarification"]
    tool_call_id: str
    tool_name: str
    title: str = ""
    prompt: str = ""
    payload: dict[str, Any] = Field(default_factory=dict)


class RunUsage(BaseModel):
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    model_calls: int = 0
    tool_calls: int = 0


class RunState(BaseModel):
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

    status: Status = "pending"
    phase: Phase = "prompted"
    turn: int = 0
    step: int = 0
    transcript: list[Message] = Field(default_factory=list)
    input_index: int = -1
    """Where this run's user message sits in the transcript: before it is thread history, after it the run."""
    tool_calls_used: int = 0
    consecutive_failures: int = 0
    failures_this_batch: int = 0
    removed_tools: list[str] = Field(default_factory=list)
    batch_results: dict[str, ToolResultPart] = Field(default_factory=dict)
    """Results of the current batch so far, by tool call id (survive a suspension mid-batch)."""
    approvals: dict[str, bool] = Field(default_factory=dict)
    pending: list[PendingAwait] = Field(default_factory=list)
    active_s: float = 0.0
    finalize_reason: FinalizeReason | None = None
    wrap_up_sent: bool = False
    usage: RunUsage = Field(default_factory=RunUsage)
    policy: RunPolicy = Field(default_factory=RunPolicy)
    output: str | None = None
    error: dict[str, Any] | None = None
    reason: str | None = None
    checkpoint_version: int = 0
    last_sequence: int = 0
    """The run log's last sequence when checkpointed: a container resuming from the control plane's copy,
    with no local log, continues the numbering instead of restarting at 1."""

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    def open_tool_uses(self) -> list[Any]:
        """Tool calls of the last assistant message that no tool message answers yet."""
        if not self.transcript or self.transcript[-1].role != "assistant":
            return []
        return self.transcript[-1].tool_uses
