"""The reference control plane (`agent control-plane serve --mcp-config`) over HTTP JSON-RPC: MCP tools in
tools.catalog, executed through tools.execute, failed servers in the catalog and /health."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx

from control_bridge.mcp import parse_config
from control_bridge.server import create_app
from tests.support import serve


def _rpc(client: httpx.Client, method: str, params: dict[str, Any]) -> Any:
    answer = client.post("/rpc", json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).json()
    assert "result" in answer, answer
    return answer["result"]


def test_reference_plane_serves_mcp_tools(tmp_path: Path, time_server: dict[str, Any]) -> None:
    config = parse_config(
        {"mcpServers": {"time": time_server, "gone": {"command": str(tmp_path / "nope")}}}, os.environ
    )
    app = create_app(tmp_path / "plane.db", None, mcp_config=config)
    with serve(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        run_id = _rpc(client, "admin.createRun", {"input": "hi"})["runId"]
        catalog = _rpc(client, "tools.catalog", {"runId": run_id})
        names = {t["name"] for t in catalog["tools"]}
        assert "mcp__time__convert_time" in names and "clock" in names
        assert catalog["mcpFailedServers"] == ["gone"]
        out = _rpc(
            client,
            "tools.execute",
            {
                "runId": run_id,
                "toolCall": {
                    "id": "c1",
                    "name": "mcp__time__convert_time",
                    "arguments": {"source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Tokyo"},
                },
                "idempotencyKey": "k1",
            },
        )
        assert "error" not in out, out
        assert out["output"]["structuredContent"]["target"]["timezone"] == "Asia/Tokyo"
        health = client.get("/health").json()
        assert (
            health["mcp"]["failedServers"] == ["gone"]
            and health["mcp"]["servers"]["time"]["state"] == "ready"
        )
