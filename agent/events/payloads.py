"""One model per run-event type: the `data` of every event the run log stores and every stream carries.

Each event is built in one place from its model, so its keys are fixed here and nowhere else: camelCase on
the wire, durations in integer `…Ms`, free-form values (tool arguments and outputs, labels, metadata) as
given. `EventData.TYPE` names the event; `agent/events/catalog.py` turns these into the discriminated union
a client validates against.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import ConfigDict, Field
from pydantic.alias_generators import to_camel

from agent.runtime.policy import RunPolicy
from control_bridge.contract import RecoveryHint, RunErrorInfo, ToolFailureKind, UsageRecord
from control_bridge.wire import WireModel
from skills import SkillDecision

Phase = Literal[
    "prompted", "planning", "executing_tools", "synthesizing", "awaiting", "completed", "failed", "canceled"
]
FinalizeReason = Literal["tool_cap", "failure_cap", "time_budget"]


class EventData(WireModel):
    """Base of every event payload; `TYPE` is the event's `type` on the wire. Unknown keys are an error, so
    the catalog's schemas are exact."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")
    TYPE: ClassVar[str]

    def data(self) -> dict[str, Any]:
        """The stored and streamed form (python-mode dump: the log encodes it once, with pydantic-core)."""
        return self.model_dump(by_alias=True)


class ToolErrorInfo(WireModel):
    """A failed tool call, typed: what went wrong and what the model should do next."""

    kind: ToolFailureKind
    message: str
    hint: RecoveryHint


class ToolCallView(WireModel):
    id: str
    name: str
    arguments: dict[str, Any]


# --- run lifecycle ---------------------------------------------------------------------------------------
class RunStarted(EventData):
    TYPE: ClassVar[str] = "run.started"
    run_id: str
    session_id: str
    thread_id: str
    space_id: str
    agent_type: str
    input: str
    labels: dict[str, str]
    model: str


class PolicyDecision(EventData):
    TYPE: ClassVar[str] = "policy.decision"
    policy: RunPolicy
    override: bool


class PhaseChanged(EventData):
    TYPE: ClassVar[str] = "phase.changed"
    from_: Phase | None = Field(alias="from")
    to: Phase


class RunPaused(EventData):
    TYPE: ClassVar[str] = "run.paused"
    phase: Phase


class RunResumed(EventData):
    """After a pause (`phase`), or on taking the run up again from its checkpoint (`leaseVersion`, `step`)."""

    TYPE: ClassVar[str] = "run.resumed"
    phase: Phase
    lease_version: int | None = None
    step: int | None = None


class RunSuspended(EventData):
    TYPE: ClassVar[str] = "run.suspended"
    pending: list[str]
    """The ids of the awaits the run waits for, in the order they must be answered."""


class RunFinalizing(EventData):
    TYPE: ClassVar[str] = "run.finalizing"
    reason: FinalizeReason


class RunReminder(EventData):
    TYPE: ClassVar[str] = "run.reminder"
    kind: Literal["wrap_up"]
    remaining_ms: int


class RunCompleted(EventData):
    TYPE: ClassVar[str] = "run.completed"
    output: str
    usage: UsageRecord


class RunFailed(EventData):
    TYPE: ClassVar[str] = "run.failed"
    error: RunErrorInfo
    usage: UsageRecord


class RunCanceled(EventData):
    TYPE: ClassVar[str] = "run.canceled"
    reason: str
    usage: UsageRecord


# --- prompt and model ------------------------------------------------------------------------------------
class PromptRendered(EventData):
    TYPE: ClassVar[str] = "prompt.rendered"
    turn: int
    sections: dict[str, int]
    """Tokens per prompt section."""
    total: int


class SkillRef(WireModel):
    id: str
    source: str


class SkillSelection(EventData):
    TYPE: ClassVar[str] = "skill.selection"
    locale: str
    locale_source: str | None
    budget_tokens: int
    used_tokens: int
    activated: list[SkillRef]
    listed_count: int
    unlisted_count: int
    decisions: list[SkillDecision]


class AssistantDelta(EventData):
    TYPE: ClassVar[str] = "assistant.delta"
    turn: int
    text: str


class ThinkingDelta(EventData):
    TYPE: ClassVar[str] = "thinking.delta"
    turn: int
    thinking: str


class Usage(EventData):
    """One model call's tokens."""

    TYPE: ClassVar[str] = "usage"
    turn: int
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int
    model: str


class AssistantMessage(EventData):
    TYPE: ClassVar[str] = "assistant.message"
    turn: int
    text: str
    tool_calls: list[ToolCallView]


# --- tools -----------------------------------------------------------------------------------------------
class ToolScheduled(EventData):
    TYPE: ClassVar[str] = "tool.scheduled"
    turn: int
    tool_call_id: str
    tool_name: str
    arguments: dict[str, Any]


class ToolProgress(EventData):
    """A remote tool's progress notification (MCP `notifications/progress`), relayed while the call runs."""

    TYPE: ClassVar[str] = "tool.progress"
    tool_call_id: str
    tool_name: str
    progress: float
    total: float | None = None
    message: str | None = None


class ToolResult(EventData):
    """A tool call's result as the model sees it; `refused` (over the cap) and `denied` (by a person) mark
    calls that never ran."""

    TYPE: ClassVar[str] = "tool.result"
    turn: int | None = None
    tool_call_id: str
    tool_name: str
    ok: bool
    output: str
    error: ToolErrorInfo | None = None
    refused: bool = False
    denied: bool = False


class ToolShadowed(EventData):
    TYPE: ClassVar[str] = "tool.shadowed"
    tool_name: str
    winner: Literal["local"]


class AwaitRequest(EventData):
    """What the run waits for from a person; answered by `run.continue` with this `awaitId`."""

    await_id: str
    title: str
    prompt: str
    tool_name: str
    tool_call_id: str
    payload: dict[str, Any]


class AwaitConfirmation(AwaitRequest):
    TYPE: ClassVar[str] = "await.confirmation"


class AwaitClarification(AwaitRequest):
    TYPE: ClassVar[str] = "await.clarification"


class ToolAuthorization(EventData):
    TYPE: ClassVar[str] = "tool.authorization"
    await_id: str
    tool_call_id: str
    tool_name: str
    approved: bool
    requested_by: str
    reason: str | None
    labels: dict[str, str]
    metadata: dict[str, Any]


class ChildRunLinked(EventData):
    TYPE: ClassVar[str] = "child_run.linked"
    child_run_id: str
    tool_call_id: str
    tool_name: str
    agent_type: str


EVENT_MODELS: tuple[type[EventData], ...] = (
    RunStarted,
    PolicyDecision,
    PhaseChanged,
    PromptRendered,
    SkillSelection,
    AssistantDelta,
    ThinkingDelta,
    Usage,
    AssistantMessage,
    ToolScheduled,
    ToolResult,
    ToolProgress,
    ToolShadowed,
    AwaitConfirmation,
    AwaitClarification,
    ToolAuthorization,
    ChildRunLinked,
    RunPaused,
    RunResumed,
    RunSuspended,
    RunFinalizing,
    RunReminder,
    RunCompleted,
    RunFailed,
    RunCanceled,
)
"""Every event type, in the order the README's table lists them."""
