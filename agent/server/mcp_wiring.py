"""The container's side of the embedded plane's MCP client: progress events and the /health section.

Event data is built here, in one place, so a vocabulary change is a one-file edit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent.runtime.manager import RunManager
    from agent.server.services import Services
    from agent.server.views import McpHealth
    from control_bridge.mcp.plane import ProgressSink


def progress_sink(manager: RunManager) -> ProgressSink:
    """MCP `notifications/progress` of a run's tool call → a `tool.progress` event in that run's log."""

    from agent.events.payloads import ToolProgress

    def sink(run_id: str, data: dict[str, Any]) -> None:
        handle = manager.runs.get(run_id)
        loop = handle.loop if handle is not None else None
        if loop is not None:
            loop.commits.emit(
                ToolProgress(
                    tool_call_id=data["toolCallId"],
                    tool_name=data["toolName"],
                    progress=data["progress"],
                    total=data.get("total"),
                    message=data.get("message"),
                )
            )

    return sink


def mcp_health(services: Services) -> McpHealth | None:
    """Each configured MCP server's state and the names of those that are not up, when MCP servers are
    configured on the embedded plane; None otherwise. Never waits."""
    from agent.server.views import McpHealth

    embedded = services.embedded
    if embedded is None or services.settings.mcp is None:
        return None
    plane = embedded.opened
    if plane is None or plane.mcp is None:
        names = [s.name for s in services.settings.mcp.enabled()]
        return McpHealth.model_validate(
            {"servers": {n: {"state": "starting"} for n in names}, "failedServers": []}
        )
    return McpHealth.model_validate(plane.mcp.status())
