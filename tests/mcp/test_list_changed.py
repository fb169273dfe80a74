"""notifications/tools/list_changed over stdio and streamable HTTP, from a server that changes its tools
while connected (ours, on the official SDK)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from control_bridge import contract as c
from control_bridge.mcp import McpManager, parse_config
from tests.mcp.conftest import SERVERS
from tests.support import free_port

SCRIPT = str(SERVERS / "changing.py")


@pytest.fixture
def http_url() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, SCRIPT, "http", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        for _ in range(400):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert proc.poll() is None, "the changing server exited"
            time.sleep(0.025)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(params=["stdio", "http"])
def entry(request: pytest.FixtureRequest) -> dict[str, Any]:
    if request.param == "stdio":
        return {"command": sys.executable, "args": [SCRIPT]}
    return {"url": request.getfixturevalue("http_url")}


async def test_list_changed_refreshes_the_catalog(entry: dict[str, Any], tmp_path: Path) -> None:
    manager = McpManager(parse_config({"mcpServers": {"chg": entry}}, os.environ))
    try:
        tools, failed = await manager.catalog()
        assert failed == [] and {t.name for t in tools} == {"mcp__chg__grow"}
        ref = await manager.lookup("mcp__chg__grow")
        assert ref is not None
        out = await manager.call(ref, c.ToolCall(id="1", name=ref.spec.name, arguments={"name": "sprout"}))
        assert out.error is None
        server = manager.servers["chg"]
        for _ in range(100):
            if server.list_changed:
                break
            await asyncio.sleep(0.05)
        assert server.list_changed >= 1
        tools, _ = await manager.catalog()
        assert "mcp__chg__sprout" in {t.name for t in tools}
        added = await manager.lookup("mcp__chg__sprout")
        assert added is not None
        result = await manager.call(added, c.ToolCall(id="2", name=added.spec.name, arguments={}))
        assert result.error is None and result.output["text"] == "I am sprout"
    finally:
        await manager.aclose()
