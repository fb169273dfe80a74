"""Real MCP servers for the tests: `mcp-server-time` (PyPI, a dev dependency), the npm reference server
`@modelcontextprotocol/server-everything` (installed from tests/mcp/servers/package.json by `make install`,
or here on first use), and a tiny crashing server of ours."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import free_port

SERVERS = Path(__file__).parent / "servers"
EVERYTHING = SERVERS / "node_modules" / "@modelcontextprotocol" / "server-everything" / "dist" / "index.js"


@pytest.fixture(scope="session")
def everything_js() -> Path:
    if shutil.which("node") is None:
        pytest.skip(
            "node is not installed: the npm reference server @modelcontextprotocol/server-everything needs it"
        )
    if not EVERYTHING.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is not installed: cannot install @modelcontextprotocol/server-everything")
        subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--prefix", str(SERVERS)],
            check=True,
            timeout=300,
            capture_output=True,
        )
    assert EVERYTHING.exists()
    return EVERYTHING


@pytest.fixture
def time_server() -> dict[str, object]:
    return {"command": sys.executable, "args": ["-m", "mcp_server_time", "--local-timezone", "UTC"]}


@pytest.fixture
def crashy(tmp_path: Path) -> dict[str, object]:
    state = tmp_path / "crashy"
    state.mkdir()
    return {"command": sys.executable, "args": [str(SERVERS / "crashy.py"), str(state)]}


@pytest.fixture
def everything_http(everything_js: Path) -> Iterator[str]:
    """server-everything over streamable HTTP, in its own process on a free loopback port."""
    port = free_port()
    proc = subprocess.Popen(
        ["node", str(everything_js), "streamableHttp"],
        env={**os.environ, "PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        for _ in range(200):
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=0.5)
                break
            except httpx.HTTPError:
                if proc.poll() is not None:
                    raise RuntimeError("server-everything (streamableHttp) exited") from None
                import time

                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
