"""MCP servers as remote tools of a control plane (client side, on the official `mcp` SDK).

`config` is light (pydantic only) and imported by settings at start; the SDK-backed parts load on first
use, so a server without MCP servers never pays for importing the SDK.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from control_bridge.mcp.config import McpConfig, McpConfigError, ServerConfig, load_config, parse_config

if TYPE_CHECKING:
    from control_bridge.mcp.manager import McpManager, McpToolRef
    from control_bridge.mcp.mapping import exposed_name

__all__ = [
    "McpConfig",
    "McpConfigError",
    "McpManager",
    "McpToolRef",
    "ServerConfig",
    "exposed_name",
    "load_config",
    "parse_config",
]


def __getattr__(name: str) -> Any:
    if name in ("McpManager", "McpToolRef"):
        from control_bridge.mcp import manager

        return getattr(manager, name)
    if name == "exposed_name":
        from control_bridge.mcp.mapping import exposed_name

        return exposed_name
    raise AttributeError(name)
