"""What the container answers about itself and its runs: `/health` and the run view of `run.get`."""

from __future__ import annotations

from typing import Literal

from agent.runtime.policy import RunPolicy
from agent.runtime.state import PendingAwait
from agent.storage import StorageHealth
from control_bridge.contract import RunErrorInfo, RunStatus, UsageRecord
from control_bridge.wire import WireModel


class RunCapacity(WireModel):
    active: int
    max: int
    available: int


class McpServerHealth(WireModel):
    state: str
    transport: str | None = None
    tools: int = 0
    restarts: int = 0
    error: str | None = None


class McpHealth(WireModel):
    """The embedded plane's MCP servers (present only when MCP_CONFIG names some)."""

    servers: dict[str, McpServerHealth]
    failed_servers: list[str]


class MemoryHealth(WireModel):
    """`denseReady` is false until the embedding model is in memory (it loads when the first run starts);
    until then memory searches rank by keywords and say so."""

    embedder: str
    dense_ready: bool


class Health(WireModel):
    status: Literal["ok", "degraded", "draining"]
    """`degraded`: storage cannot take new runs (see `storage.reason`); runs in flight wait for space."""
    service: str
    version: str
    runs: RunCapacity
    model: str
    language_model: bool
    control_plane: Literal["embedded", "remote"]
    mcp: McpHealth | None = None
    memory: MemoryHealth | None = None
    storage: StorageHealth


class RunView(WireModel):
    """A run as `run.get` and the verbs show it. A run known only from its log (no checkpoint here) has only
    `runId`, `status` and `phase`."""

    run_id: str
    status: RunStatus
    phase: str
    session_id: str | None = None
    thread_id: str | None = None
    space_id: str | None = None
    model: str | None = None
    labels: dict[str, str] | None = None
    policy: RunPolicy | None = None
    usage: UsageRecord | None = None
    pending_awaits: list[PendingAwait] | None = None
    last_assistant_message: str | None = None
    output: str | None = None
    error: RunErrorInfo | None = None
    reason: str | None = None
    step: int | None = None
    lease_version: int | None = None
    last_sequence: int | None = None
