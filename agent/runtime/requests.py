"""What callers send to the run manager: start and continue requests, and the error it answers with."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from control_bridge import contract as c
from control_bridge.wire import StrictWireModel, WireModel


class RunError(Exception):
    """A request about a run that cannot be honoured; `code` is the JSON-RPC / HTTP mapping key."""

    def __init__(
        self, code: Literal["not_found", "conflict", "invalid", "capacity"], message: str, **data: Any
    ):
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data


class StartRequest(StrictWireModel):
    """`POST /start` and `run.start` params (camelCase on the wire)."""

    run_id: str | None = Field(default=None, min_length=1, max_length=256, pattern=r"^[A-Za-z0-9_.:\-]+$")
    session_id: str | None = Field(default=None, max_length=256)
    worker_id: str | None = Field(default=None, max_length=256)
    service_id: str | None = Field(default=None, max_length=256)
    model: str | None = Field(default=None, max_length=512)
    lease_version: int | None = Field(default=None, ge=0)
    control_rpc_base_url: str | None = Field(default=None, max_length=2048, pattern=r"^https?://\S+$")
    control_rpc_token: str | None = Field(default=None, max_length=4096, repr=False)
    input: str | None = Field(default=None, min_length=1, max_length=1_000_000)
    thread_id: str | None = Field(default=None, min_length=1, max_length=256)
    space_id: str | None = Field(default=None, min_length=1, max_length=256)
    agent_type: str | None = Field(default=None, max_length=128)
    labels: dict[str, str] = Field(default_factory=dict)
    locale: str | None = Field(default=None, max_length=32)
    config: c.RunConfigResult | None = None
    # What Takos's executor host always sends (README "Running under Takos"); ignored by the JSON-RPC side.
    executor_tier: int | None = Field(default=None, ge=1, le=3)
    executor_container_id: str | None = Field(default=None, min_length=1, max_length=256)
    start_token: str | None = Field(default=None, max_length=4096, repr=False)
    checkpoint_protocol_version: int | None = Field(default=None, ge=0)


class StartResult(WireModel):
    accepted: bool = True
    run_id: str
    duplicate: bool | None = None
    replaced: bool | None = None


class ContinueRequest(StrictWireModel):
    run_id: str = Field(min_length=1)
    await_id: str = Field(min_length=1)
    decision: dict[str, Any]


class ConfirmationDecision(StrictWireModel):
    approved: bool
    requested_by: str = Field(min_length=1)
    reason: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)


class ClarificationAnswer(StrictWireModel):
    answer: str = Field(min_length=1)
