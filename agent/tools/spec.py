"""What a tool is to the loop: a spec, an async execute, and explicit per-call metadata.

Tools from `memory` and `skills` cannot import this module (dependency direction); they are plain objects
with `name`, `description`, `parameters`, `side_effects` and `async execute(arguments, ctx)`, adapted by
`agent.tools.registry`. A failure is signalled by raising `ToolFailure` (defined in `control_bridge.tool_failure`,
so memory and skills raise it too), or any exception with a `kind` attribute from FAILURE_KINDS.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from control_bridge.contract import ToolFailureKind as FailureKind
from control_bridge.tool_failure import DEFAULT_HINTS, FAILURE_KINDS, RecoveryHint, ToolFailure

__all__ = [
    "DEFAULT_HINTS",
    "FAILURE_KINDS",
    "FailureKind",
    "RecoveryHint",
    "Tool",
    "ToolCallContext",
    "ToolFailure",
    "ToolSpec",
]


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


@runtime_checkable
class Tool(Protocol):
    @property
    def spec(self) -> ToolSpec: ...

    async def execute(self, arguments: dict[str, Any], ctx: ToolCallContext) -> Any: ...
