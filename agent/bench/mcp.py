"""`agent bench mcp`: the per-call cost of an MCP tool call over stdio and over streamable HTTP against a
local server (agent/bench/_mcp_echo.py), measured two ways:

- `mcp_*_call_p50_ms`: one `tools/call` through our client manager (SDK client, transport, server, result
  mapping): the MCP round trip a run pays;
- `mcp_*_execute_p50_ms`: the same call as the loop makes it, `tools.execute` on the embedded control plane
  (idempotency record reserved and written in SQLite around the call).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from agent.bench.startup import free_port


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--calls", type=int, default=300, help="timed calls per transport (default 300)")


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _measure(entry: dict[str, Any], calls: int, db: Path) -> dict[str, float]:
    from control_bridge import contract as c
    from control_bridge.embedded import EmbeddedControlPlane
    from control_bridge.mcp import parse_config

    plane = EmbeddedControlPlane(db, mcp_config=parse_config({"mcpServers": {"bench": entry}}, os.environ))
    try:
        run_id = (await plane.create_run({"input": "bench"})).run_id
        await plane.call("tools.catalog", c.ToolsCatalogParams(run_id=run_id))
        assert plane.mcp is not None
        ref = await plane.mcp.lookup("mcp__bench__echo")
        assert ref is not None, plane.mcp.status()
        call = c.ToolCall(id="x", name=ref.spec.name, arguments={"text": "hello"})
        raw: list[float] = []
        for i in range(calls + 20):
            began = time.perf_counter()
            result = await plane.mcp.manager.call(ref, call)
            if i >= 20:
                raw.append((time.perf_counter() - began) * 1000)
            assert result.error is None, result.error
        full: list[float] = []
        for i in range(calls):
            p = c.ToolsExecuteParams(
                run_id=run_id,
                tool_call=c.ToolCall(id=f"t{i}", name=ref.spec.name, arguments={"text": "hi"}),
                idempotency_key=f"k{i}",
            )
            began = time.perf_counter()
            out = await plane.call("tools.execute", p)
            full.append((time.perf_counter() - began) * 1000)
            assert isinstance(out, c.ToolsExecuteResult) and out.error is None
        return {
            "call_p50_ms": round(statistics.median(raw), 3),
            "call_p95_ms": round(_p(raw, 0.95), 3),
            "execute_p50_ms": round(statistics.median(full), 3),
        }
    finally:
        await plane.aclose()


def _wait_http(port: int, proc: subprocess.Popen[bytes]) -> None:
    import socket

    for _ in range(400):
        if proc.poll() is not None:
            raise RuntimeError("the bench MCP server (http) exited")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.025)
    raise RuntimeError("the bench MCP server (http) did not start")


def run(args: argparse.Namespace) -> dict[str, Any]:
    calls = max(20, int(getattr(args, "calls", 300)))
    server = [sys.executable, "-m", "agent.bench._mcp_echo"]
    with tempfile.TemporaryDirectory() as tmp:
        stdio = asyncio.run(
            _measure({"command": server[0], "args": [*server[1:], "stdio"]}, calls, Path(tmp) / "a.db")
        )
        port = free_port()
        proc = subprocess.Popen(
            [*server, "http", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            _wait_http(port, proc)
            http = asyncio.run(_measure({"url": f"http://127.0.0.1:{port}/mcp"}, calls, Path(tmp) / "b.db"))
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    out: dict[str, Any] = {"calls": calls}
    out.update({f"mcp_stdio_{k}": v for k, v in stdio.items()})
    out.update({f"mcp_http_{k}": v for k, v in http.items()})
    return out
