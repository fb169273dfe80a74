"""The MCP client manager of a control plane: every configured server, one merged catalog, calls by name.

Servers are started when the plane starts (in the background: the plane answers at once) rather than on
first use, so `/health` and the first `tools.catalog` already know which servers failed. `tools.catalog`
waits for each server's first attempt (bounded by its `startupTimeoutMs`); a server that is not ready then
is listed by name in `mcpFailedServers` and the others' tools stay available.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import mcp_types as mt

from control_bridge import contract as c
from control_bridge.mcp.config import McpConfig
from control_bridge.mcp.connection import McpCallError, ProgressFn, ServerConnection
from control_bridge.mcp.mapping import execute_result, exposed_name, remote_tool

logger = logging.getLogger("control_bridge.mcp")


@dataclass(frozen=True)
class McpToolRef:
    server: ServerConnection
    tool: str
    """The tool's own name on its server."""
    spec: c.RemoteTool


class McpManager:
    def __init__(self, config: McpConfig) -> None:
        self.config = config
        self.servers: dict[str, ServerConnection] = {
            s.name: ServerConnection(s, on_tools_changed=self._changed) for s in config.enabled()
        }
        self._index: dict[str, McpToolRef] | None = None
        self._started = False

    def start(self) -> None:
        """Starts every server's supervisor (needs the running event loop; idempotent)."""
        if self._started:
            return
        self._started = True
        for server in self.servers.values():
            server.start()

    async def aclose(self) -> None:
        await asyncio.gather(*(s.aclose() for s in self.servers.values()), return_exceptions=True)

    def _changed(self, _server: ServerConnection) -> None:
        self._index = None

    async def _ready_index(self) -> dict[str, McpToolRef]:
        self.start()
        pending = [s.wait_attempted() for s in self.servers.values() if not s._attempted.is_set()]
        if pending:
            await asyncio.gather(*pending)
            self._index = None
        if self._index is None:
            index: dict[str, McpToolRef] = {}
            for server in self.servers.values():
                timeout_ms = server.config.options.timeout_ms
                for tool in server.tools:
                    try:
                        spec = remote_tool(server.name, tool, timeout_ms=timeout_ms)
                    except ValueError as exc:
                        logger.warning("MCP tool %s/%s skipped: %s", server.name, tool.name, exc)
                        continue
                    index[spec.name] = McpToolRef(server, tool.name, spec)
            self._index = index
        return self._index

    async def catalog(self) -> tuple[list[c.RemoteTool], list[str]]:
        """(the tools of the servers that are up, the names of those that are not)."""
        index = await self._ready_index()
        failed = self.failed()
        return [ref.spec for ref in index.values() if ref.server.name not in failed], failed

    def failed(self) -> list[str]:
        return sorted(name for name, s in self.servers.items() if s.state != "ready")

    async def lookup(self, name: str) -> McpToolRef | None:
        if not name.startswith("mcp__"):
            return None
        index = await self._ready_index()
        return index.get(name)

    async def call(
        self,
        ref: McpToolRef,
        call: c.ToolCall,
        *,
        timeout_s: float | None = None,
        progress: ProgressFn | None = None,
    ) -> c.ToolsExecuteResult:
        """Executes one call and maps the outcome; never raises except on cancellation."""
        limit = timeout_s or ref.server.config.options.timeout_ms / 1000
        try:
            result: mt.CallToolResult = await ref.server.call(
                ref.tool, call.arguments, timeout_s=limit, progress=progress
            )
        except McpCallError as exc:
            error = c.ToolExecutionError(kind=exc.kind, message=exc.message)
            return c.ToolsExecuteResult(
                tool_call_id=call.id, error=error, outcome_uncertain=exc.uncertain and ref.spec.side_effects
            )
        return execute_result(call.id, result)

    def status(self) -> dict[str, Any]:
        """For /health: each server's state, and the names of those that are not up."""
        return {
            "servers": {name: s.status() for name, s in self.servers.items()},
            "failedServers": self.failed() if self._started else [],
        }


__all__ = ["McpManager", "McpToolRef", "exposed_name"]
