"""The control-plane contract: one pydantic model pair per JSON-RPC method.

This module is the single source of truth for what crosses the bridge. Python names are snake_case;
the wire is camelCase (aliases), and both are accepted on input so that in-process callers can use either.
It is longer than our other modules on purpose: one file that a peer can read top to bottom, method by
method, is the contract; splitting it would scatter the one thing that must be read whole.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from pydantic import ConfigDict, Field
from pydantic.alias_generators import to_camel

from control_bridge.wire import WireModel as WireModel  # (re-exported: `c.WireModel`)

RunStatus = Literal["pending", "running", "paused", "suspended", "completed", "failed", "canceled"]
TerminalStatus = Literal["completed", "failed", "canceled"]
TERMINAL_STATUSES: frozenset[str] = frozenset({"completed", "failed", "canceled"})
RiskLevel = Literal["low", "medium", "high"]
ToolFailureKind = Literal[
    "invalid_call",
    "unknown_tool",
    "domain_rejection",
    "unavailable",
    "rate_limited",
    "timeout",
    "malformed_result",
    "internal",
]
"""The loop's typed tool failures; remote tools report theirs with the same kinds."""
RecoveryHint = Literal["correct_call", "replan", "finish"]
"""What the model should do after a failed tool call."""

NonEmpty = Field(min_length=1, max_length=256)


class RunRef(WireModel):
    """Every run-scoped call names the run and the lease it holds (0 = no lease fencing)."""

    run_id: str = NonEmpty
    lease_version: int = Field(default=0, ge=0)

    def as_(self, params: type[_Ref]) -> _Ref:
        """The params of a method that takes only the run reference (`run.config`, `tools.catalog`, …)."""
        return params(run_id=self.run_id, lease_version=self.lease_version)


_Ref = TypeVar("_Ref", bound=RunRef)


# --- run.bootstrap -------------------------------------------------------------------------------------
class RunBootstrapParams(RunRef):
    pass


class RunBootstrapResult(WireModel):
    run_id: str
    status: RunStatus
    space_id: str = "default"
    session_id: str
    thread_id: str
    user_id: str | None = None
    agent_type: str = "default"
    input: str = ""
    labels: dict[str, str] = Field(default_factory=dict)
    locale: str | None = None
    lease_version: int = 0


# --- run.config ----------------------------------------------------------------------------------------
class PolicyConfig(WireModel):
    """Caps set by the control plane. None (or 0) means 'not set here'."""

    max_tool_calls: int | None = Field(default=None, ge=0)
    max_consecutive_failed_tool_calls: int | None = Field(default=None, ge=0)
    time_budget_ms: int | None = Field(default=None, ge=0)
    finalizer_grace_ms: int | None = Field(default=None, ge=0)
    interrupts_allowed: bool | None = None
    tool_allow: list[str] | None = None
    tool_block: list[str] | None = None
    require_confirmation: list[str] | None = None
    labels: dict[str, str] | None = None


class RunConfigParams(RunRef):
    pass


class RunConfigResult(WireModel):
    system_prompt: str | None = None
    model: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    policy: PolicyConfig = Field(default_factory=PolicyConfig)


# --- conversation.history ------------------------------------------------------------------------------
class ConversationHistoryParams(RunRef):
    limit: int = Field(default=50, ge=1, le=1000)


class HistoryToolCall(WireModel):
    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class HistoryMessage(WireModel):
    """One message of a thread, as the control plane stores it and `run.complete` reports it: the one message
    shape of the contract (a tool message answers exactly one call, named by `toolCallId`)."""

    role: Literal["system", "user", "assistant", "tool"]
    content: str = ""
    tool_calls: list[HistoryToolCall] = Field(default_factory=list)
    tool_call_id: str | None = None
    is_error: bool | None = None
    run_id: str | None = None
    created_at: str | None = None


class ConversationHistoryResult(WireModel):
    thread_id: str
    title: str | None = None
    messages: list[HistoryMessage] = Field(default_factory=list)


# --- tools.catalog -------------------------------------------------------------------------------------
class ToolsCatalogParams(RunRef):
    pass


class RemoteTool(WireModel):
    name: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.\-]+$")
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    side_effects: bool = True
    risk_level: RiskLevel = "low"
    requires_confirmation: bool = False
    tags: list[str] = Field(default_factory=list)
    timeout_ms: int | None = Field(default=None, ge=1)


class ToolsCatalogResult(WireModel):
    tools: list[RemoteTool] = Field(default_factory=list)
    mcp_failed_servers: list[str] | None = None
    """Configured MCP servers that are not up (failed to start or initialize, or restarting); the other
    servers' tools are listed as usual. Absent when the plane has no MCP servers."""


# --- tools.execute -------------------------------------------------------------------------------------
class ToolCall(WireModel):
    id: str = NonEmpty
    name: str = NonEmpty
    arguments: dict[str, Any] = Field(default_factory=dict)


class ToolsExecuteParams(RunRef):
    tool_call: ToolCall
    idempotency_key: str = NonEmpty


class ToolExecutionError(WireModel):
    """A tool's own failure, typed with the loop's failure kinds."""

    kind: ToolFailureKind = "internal"
    message: str = ""


class ToolsExecuteResult(WireModel):
    tool_call_id: str
    output: Any = None
    error: ToolExecutionError | None = None
    outcome_uncertain: bool = False
    replayed: bool = False


# --- tools.cleanup -------------------------------------------------------------------------------------
class ToolsCleanupParams(RunRef):
    pass


class ToolsCleanupResult(WireModel):
    released: int = 0


# --- skills.runtimeContext -----------------------------------------------------------------------------
class CustomSkillRecord(WireModel):
    """A custom skill as the control plane stores it; the skills package validates it further."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")

    id: str = NonEmpty
    name: str = NonEmpty
    description: str = ""
    category: str = "general"
    locale: str = "en"
    version: str = "1"
    priority: int = 50
    triggers: list[str] = Field(default_factory=list)
    activation_tags: list[str] = Field(default_factory=list)
    instructions: str = ""
    preferred_tools: list[str] = Field(default_factory=list)
    output_modes: list[str] = Field(default_factory=list)
    durable_output_hints: list[str] = Field(default_factory=list)
    required_mcp_servers: list[str] = Field(default_factory=list)
    template_ids: list[str] = Field(default_factory=list)


class SkillsRuntimeContextParams(RunRef):
    pass


class SkillsRuntimeContextResult(WireModel):
    custom_skills: list[CustomSkillRecord] = Field(default_factory=list)
    locale: str | None = None
    accept_language: str | None = None
    mcp_servers: list[str] = Field(default_factory=list)
    template_ids: list[str] = Field(default_factory=list)
    preselected: list[str] | None = None
    """Ids (among `custom_skills`) the control plane already selected for this run: when set, exactly these
    are activated and the container does not select again (Takos resolves the skill plan itself)."""


# --- run.heartbeat / run.isCancelled -------------------------------------------------------------------
class RunHeartbeatParams(RunRef):
    worker_id: str | None = None


class RunHeartbeatResult(WireModel):
    ok: bool = True
    lease_version: int = 0
    cancel_requested: bool = False


class RunIsCancelledParams(RunRef):
    pass


class RunIsCancelledResult(WireModel):
    cancelled: bool = False
    reason: str | None = None


# --- run.events.append ---------------------------------------------------------------------------------
class EventRecord(WireModel):
    """One run event as every reader sees it (the same envelope as SSE and `run.events`)."""

    sequence: int = Field(ge=1)
    type: str = NonEmpty
    data: dict[str, Any] = Field(default_factory=dict)
    time: str | None = None


class RunEventsAppendParams(RunRef):
    events: list[EventRecord] = Field(max_length=10_000)


class RunEventsAppendResult(WireModel):
    accepted: int = 0
    duplicates: int = 0
    last_sequence: int = 0


# --- run.checkpoint.save / load ------------------------------------------------------------------------
class RunCheckpointSaveParams(RunRef):
    version: int = Field(ge=1)
    state: dict[str, Any]


class RunCheckpointSaveResult(WireModel):
    version: int


class RunCheckpointLoadParams(RunRef):
    pass


class RunCheckpointLoadResult(WireModel):
    version: int | None = None
    state: dict[str, Any] | None = None


# --- run.complete --------------------------------------------------------------------------------------
class RunErrorInfo(WireModel):
    """Why a run failed: a stable `kind` to branch on and a message for people."""

    kind: str
    message: str = ""
    provider: str | None = None
    status: int | None = None


class UsageRecord(WireModel):
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    model_calls: int = 0
    tool_calls: int = 0


class RunCompleteParams(RunRef):
    status: TerminalStatus
    usage: UsageRecord = Field(default_factory=UsageRecord)
    output: str | None = None
    error: RunErrorInfo | None = None
    reason: str | None = None
    transcript: list[HistoryMessage] = Field(default_factory=list)


class RunCompleteResult(WireModel):
    status: RunStatus
    already_completed: bool = False


# --- secrets.apiKeys -----------------------------------------------------------------------------------
class SecretsApiKeysParams(RunRef):
    pass


class SecretsApiKeysResult(WireModel):
    """Provider name → key. Never logged, never put in events."""

    keys: dict[str, str] = Field(default_factory=dict)

    def __repr__(self) -> str:  # keys must not leak through logs or tracebacks
        return f"SecretsApiKeysResult(providers={sorted(self.keys)})"

    __str__ = __repr__


# --- admin (embedded / reference control plane only) ---------------------------------------------------
class CreateRunParams(WireModel):
    """Creates a thread (if needed), a user message and a run. Not part of the container's contract."""

    input: str = Field(min_length=1, max_length=1_000_000)
    run_id: str | None = Field(default=None, min_length=1, max_length=256)
    space_id: str = Field(default="default", min_length=1, max_length=256)
    thread_id: str | None = Field(default=None, min_length=1, max_length=256)
    session_id: str | None = Field(default=None, min_length=1, max_length=256)
    user_id: str | None = None
    agent_type: str = "default"
    title: str | None = None
    locale: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    config: RunConfigResult | None = None


class CreateRunResult(WireModel):
    run_id: str
    space_id: str
    thread_id: str
    session_id: str
    lease_version: int


class RunRecord(WireModel):
    """A run as the embedded / reference control plane stores it (admin view)."""

    run_id: str
    space_id: str
    thread_id: str
    session_id: str
    user_id: str | None = None
    agent_type: str = "default"
    input: str = ""
    labels: dict[str, str] = Field(default_factory=dict)
    locale: str | None = None
    status: RunStatus
    lease_version: int
    worker_id: str | None = None
    cancel_requested: bool = False
    cancel_reason: str | None = None
    usage: UsageRecord = Field(default_factory=UsageRecord)
    output: str | None = None
    error: RunErrorInfo | None = None
    reason: str | None = None
    created_at: str
    updated_at: str
    completed_at: str | None = None


class RunIdParams(WireModel):
    run_id: str = NonEmpty


class ListRunsParams(WireModel):
    space_id: str | None = None
    thread_id: str | None = None
    status: RunStatus | None = None
    limit: int = Field(default=100, ge=1, le=10_000)


class ListRunsResult(WireModel):
    runs: list[RunRecord] = Field(default_factory=list)


class AdminEventsParams(WireModel):
    run_id: str = NonEmpty
    after: int = Field(default=0, ge=0)
    limit: int = Field(default=10_000, ge=1, le=100_000)


class AdminEventsResult(WireModel):
    events: list[EventRecord] = Field(default_factory=list)


class RegisterToolParams(WireModel):
    """A remote tool; with `http_endpoint`, tools.execute POSTs the arguments there and returns its JSON."""

    tool: RemoteTool
    http_endpoint: str | None = Field(default=None, pattern=r"^https?://", max_length=2048)


class RegisterToolResult(WireModel):
    name: str


class BumpLeaseResult(WireModel):
    run_id: str
    lease_version: int


class CancelRunParams(WireModel):
    run_id: str = NonEmpty
    reason: str = Field(default="canceled", max_length=1000)


class CancelRunResult(WireModel):
    run_id: str
    status: RunStatus
    cancel_requested: bool


class SetCustomSkillsParams(WireModel):
    space_id: str = Field(default="default", min_length=1, max_length=256)
    skills: list[CustomSkillRecord] = Field(default_factory=list)
    mcp_servers: list[str] | None = None
    template_ids: list[str] | None = None


class SetApiKeysParams(WireModel):
    space_id: str = Field(default="default", min_length=1, max_length=256)
    keys: dict[str, str] = Field(default_factory=dict)

    def __repr__(self) -> str:
        return f"SetApiKeysParams(space_id={self.space_id!r}, providers={sorted(self.keys)})"

    __str__ = __repr__


class SpaceUpdateResult(WireModel):
    space_id: str
    count: int


class ToolCountParams(WireModel):
    name: str = NonEmpty


class ToolCountResult(WireModel):
    name: str
    count: int


# The method table: name → (params model, result model).
METHODS: dict[str, tuple[type[WireModel], type[WireModel]]] = {
    "run.bootstrap": (RunBootstrapParams, RunBootstrapResult),
    "run.config": (RunConfigParams, RunConfigResult),
    "conversation.history": (ConversationHistoryParams, ConversationHistoryResult),
    "tools.catalog": (ToolsCatalogParams, ToolsCatalogResult),
    "tools.execute": (ToolsExecuteParams, ToolsExecuteResult),
    "tools.cleanup": (ToolsCleanupParams, ToolsCleanupResult),
    "skills.runtimeContext": (SkillsRuntimeContextParams, SkillsRuntimeContextResult),
    "run.heartbeat": (RunHeartbeatParams, RunHeartbeatResult),
    "run.isCancelled": (RunIsCancelledParams, RunIsCancelledResult),
    "run.events.append": (RunEventsAppendParams, RunEventsAppendResult),
    "run.checkpoint.save": (RunCheckpointSaveParams, RunCheckpointSaveResult),
    "run.checkpoint.load": (RunCheckpointLoadParams, RunCheckpointLoadResult),
    "run.complete": (RunCompleteParams, RunCompleteResult),
    "secrets.apiKeys": (SecretsApiKeysParams, SecretsApiKeysResult),
}

# Admin surface of the embedded / reference control plane: name → (params model, result model).
ADMIN_METHODS: dict[str, tuple[type[WireModel], type[WireModel]]] = {
    "admin.createRun": (CreateRunParams, CreateRunResult),
    "admin.getRun": (RunIdParams, RunRecord),
    "admin.listRuns": (ListRunsParams, ListRunsResult),
    "admin.events": (AdminEventsParams, AdminEventsResult),
    "admin.registerTool": (RegisterToolParams, RegisterToolResult),
    "admin.bumpLease": (RunIdParams, BumpLeaseResult),
    "admin.cancelRun": (CancelRunParams, CancelRunResult),
    "admin.setCustomSkills": (SetCustomSkillsParams, SpaceUpdateResult),
    "admin.setApiKeys": (SetApiKeysParams, SpaceUpdateResult),
    "admin.toolCount": (ToolCountParams, ToolCountResult),
}
