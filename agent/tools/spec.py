"""What a tool is to the loop: a spec, an async execute, and explicit per-call metadata.

Tools from `memory` and `skills` cannot import this module (dependency direction); they are plain objects
with `name`, `description`, `parameters`, `side_effects` and `async execute(arguments, ctx)`, adapted by
`agent.tools.registry`. A failure is signalled by raising any exception with a `kind` attribute from
FAILURE_KINDS (and optionally `hint`), or `ToolFailure` itself.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from control_bridge.contract import RecoveryHint
from control_bridge.contract import ToolFailureKind as FailureKind

FAILURE_KINDS: frozenset[str] = frozenset(FailureKind.__args__)  # type: ignore[attr-defined]
DEFAULT_HINTS: dict[str, RecoveryHint] = {
    "invalid_call": "correct_call",
    "unknown_tool": "replan",
    "domain_rejection": "replan",
    "unavailable": "replan",
    "rate_limited": "replan",
    "timeout": "replan",
    "malformed_result": "replan",
    "internal": "replan",
}


class ToolSpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    side_effects: bool = True
    risk_level: Literal["low", "medium", "high"] = "low"
    requires_confirmation: bool = False
    tags: tuple[str, ...] = ()
    timeout_s: float | None = None
    source: Literal["local", "remote"] = "local"


class ToolCallContext(BaseModel):
    """Everything a tool may know about the call, passed explicitly (never read from globals)."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    session_id: str
    turn_id: int
    tool_call_id: str
    space_id: str = "default"
    thread_id: str | None = None
    lease_version: int = 0
    step: int = 0
    locale: str | None = None


class ToolFailure(Exception):
    """A typed tool failure; goes back to the model as a tool result with a recovery hint."""

    def __init__(self, kind: FailureKind, message: str, hint: RecoveryHint | None = None) -> None:
        super().__init__(message)
        self.kind: FailureKind = kind
        self.message = message
        self.hint: RecoveryHint = hint or DEFAULT_HINTS[kind]


@runtime_checkable
class Tool(Protocol):
    @property
    def spec(self) -> ToolSpec: ...

    async def execute(self, arguments: dict[str, Any], ctx: ToolCallContext) -> Any: ...
