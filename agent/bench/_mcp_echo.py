"""The local MCP server `agent bench mcp` measures against: one `echo` tool on the official SDK, served over
stdio (`python -m agent.bench._mcp_echo stdio`) or streamable HTTP (`… http PORT`), so both transports run
the same server code and the difference is the transport."""

from __future__ import annotations

import sys

from mcp.server.mcpserver import MCPServer

server = MCPServer("bench-echo")


@server.tool()
def echo(text: str) -> str:
    """Returns its input."""
    return text


if __name__ == "__main__":
    if sys.argv[1:2] == ["http"]:
        server.run(
            "streamable-http",
            host="127.0.0.1",
            port=int(sys.argv[2]),
            stateless_http=True,
            json_response=True,
        )
    else:
        server.run("stdio")
