"""A tiny MCP server of ours whose `grow` tool adds a tool and announces it with
notifications/tools/list_changed (stdio, or streamable HTTP on a port), to test list_changed over both
transports where server-everything's announcement cannot be delivered (it comes before the GET stream)."""

from __future__ import annotations

import sys

from mcp.server.mcpserver import Context, MCPServer

server = MCPServer("changing")


@server.tool()
async def grow(name: str, ctx: Context) -> str:
    """Adds a tool called `name` and tells the client its tool list changed."""

    def added() -> str:
        return f"I am {name}"

    server.add_tool(added, name=name, description=f"added at runtime: {name}")
    await ctx.notify_tools_changed()  # a listen subscription (2026-07-28) or the notification (older clients)
    return f"added {name}"


if __name__ == "__main__":
    if sys.argv[1:2] == ["http"]:
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run("stdio")
