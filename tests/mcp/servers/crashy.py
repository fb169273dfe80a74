"""A tiny MCP server of ours (official SDK, stdio) whose `crash_once` tool kills the process the first time
it is called (a marker file remembers), to test restart after a crash mid-call; `sleep` reports when it is
cancelled (to a file), to check that our cancellation reaches the server as notifications/cancelled."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from mcp.server.mcpserver import MCPServer

server = MCPServer("crashy")
STATE = Path(sys.argv[1])


@server.tool()
async def crash_once(text: str) -> str:
    """Crashes the server on its first call; echoes afterwards."""
    marker = STATE / "crashed"
    if not marker.exists():
        marker.write_text(str(os.getpid()))
        print("crashy: crashing now", file=sys.stderr, flush=True)
        os._exit(17)
    return f"echo: {text}"


@server.tool()
async def sleep(seconds: float) -> str:
    """Sleeps; writes `cancelled` to the state directory if the call is cancelled."""
    try:
        await asyncio.sleep(seconds)
    except asyncio.CancelledError:
        (STATE / "cancelled").write_text("yes")
        raise
    return "slept"


@server.tool()
async def pid() -> int:
    """The server's process id."""
    return os.getpid()


if __name__ == "__main__":
    print(f"crashy: started pid {os.getpid()}", file=sys.stderr, flush=True)
    server.run("stdio")
