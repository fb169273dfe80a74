"""Process care of stdio servers: restart after a crash mid-call, stderr in our logs, no orphans."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from control_bridge import contract as c
from control_bridge.embedded import EmbeddedControlPlane
from control_bridge.mcp import McpManager, parse_config
from control_bridge.mcp._procs import alive, group_members


async def _wait(predicate: Any, seconds: float = 15) -> None:
    for _ in range(int(seconds / 0.05)):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached in time")


@pytest.fixture
async def plane(
    tmp_path: Path, crashy: dict[str, Any], time_server: dict[str, Any]
) -> AsyncIterator[EmbeddedControlPlane]:
    config = parse_config({"mcpServers": {"crashy": crashy, "time": time_server}}, os.environ)
    plane = EmbeddedControlPlane(tmp_path / "control.db", mcp_config=config)
    try:
        yield plane
    finally:
        await plane.aclose()


async def _execute(
    plane: EmbeddedControlPlane, run_id: str, name: str, args: dict[str, Any], key: str
) -> c.ToolsExecuteResult:
    p = c.ToolsExecuteParams(
        run_id=run_id, tool_call=c.ToolCall(id=key, name=name, arguments=args), idempotency_key=key
    )
    result = await plane.call("tools.execute", p)
    assert isinstance(result, c.ToolsExecuteResult)
    return result


async def test_crash_mid_call_is_unavailable_then_restarted(
    plane: EmbeddedControlPlane, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="control_bridge.mcp")
    run_id = (await plane.create_run({"input": "hi"})).run_id
    assert plane.mcp is not None
    server = plane.mcp.manager.servers["crashy"]
    await plane.call("tools.catalog", c.ToolsCatalogParams(run_id=run_id))
    first_pid = server.pid
    assert first_pid is not None and alive(first_pid)

    crashed = await _execute(plane, run_id, "mcp__crashy__crash_once", {"text": "a"}, "k1")
    assert crashed.error is not None and crashed.error.kind == "unavailable"
    assert crashed.outcome_uncertain  # not read-only: it may have acted before dying

    after = await _execute(plane, run_id, "mcp__crashy__crash_once", {"text": "b"}, "k2")
    assert after.error is None and after.output["text"] == "echo: b"
    assert server.restarts >= 1 and server.pid != first_pid
    assert not group_members(first_pid)  # nothing of the crashed server lives on
    messages = [r.getMessage() for r in caplog.records]
    assert any("[crashy] crashy: crashing now" in m for m in messages)  # its stderr, tagged with its name


async def test_kill_9_restarts_and_shutdown_leaves_no_orphans(plane: EmbeddedControlPlane) -> None:
    run_id = (await plane.create_run({"input": "hi"})).run_id
    assert plane.mcp is not None
    await plane.call("tools.catalog", c.ToolsCatalogParams(run_id=run_id))
    servers = plane.mcp.manager.servers
    victim = servers["time"].pid
    assert victim is not None
    os.kill(victim, signal.SIGKILL)
    await _wait(lambda: servers["time"].state == "ready" and servers["time"].pid not in (None, victim))
    assert not group_members(victim)
    ok = await _execute(plane, run_id, "mcp__time__get_current_time", {"timezone": "Asia/Tokyo"}, "k1")
    assert ok.error is None and ok.output["structuredContent"]["timezone"] == "Asia/Tokyo"

    pids = [s.pid for s in servers.values()]
    assert all(pids)
    await plane.aclose()
    for pid in pids:
        assert pid is not None and not group_members(pid)


async def test_a_server_that_cannot_start_is_reported_and_the_others_work(
    tmp_path: Path, time_server: dict[str, Any]
) -> None:
    config = parse_config(
        {
            "mcpServers": {
                "time": time_server,
                "ghost": {"command": str(tmp_path / "missing-binary")},
                "bad": {"command": sys.executable, "args": ["-c", "print('not json-rpc')"]},
            }
        },
        os.environ,
    )
    manager = McpManager(config)
    try:
        tools, failed = await manager.catalog()
        assert failed == ["bad", "ghost"]
        assert {t.name for t in tools} == {"mcp__time__get_current_time", "mcp__time__convert_time"}
        status = manager.status()
        assert status["failedServers"] == ["bad", "ghost"]
        assert "No such file" in status["servers"]["ghost"]["error"]
    finally:
        await manager.aclose()
