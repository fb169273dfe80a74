"""The container's side of the embedded plane's MCP client: progress events and the /health section.

Event data is built here, in one place, so a vocabulary change is a one-file edit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent.runtime.manager import RunManager
    from agent.server.services import Services
    from control_bridge.mcp.plane import ProgressSink

PROGRESS_EVENT = "tool.progress"


def progress_sink(manager: RunManager) -> ProgressSink:
    """MCP `notifications/progress` of a run's tool call → a `tool.progress` event in that run's log."""

    def sink(run_id: str, data: dict[str, Any]) -> None:
        handle = manager.runs.get(run_id)
        loop = handle.loop if handle is not None else None
        if loop is not None:
            loop.emit(PROGRESS_EVENT, data)

    return sink


def mcp_health(services: Services) -> dict[str, Any]:
    """`{"mcp": {"servers": {name: {state, transport, tools, restarts, error?}}, "failedServers": [...]}}`
    when MCP servers are configured on the embedded plane; nothing otherwise. Never waits."""
    embedded = services.embedded
    if embedded is None or services.settings.mcp is None:
        return {}
    plane = embedded.opened
    if plane is None or plane.mcp is None:
        names = [s.name for s in services.settings.mcp.enabled()]
        return {"mcp": {"servers": {n: {"state": "starting"} for n in names}, "failedServers": []}}
    return {"mcp": plane.mcp.status()}
