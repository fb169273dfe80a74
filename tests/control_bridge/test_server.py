"""The reference server's HTTP edge: auth, size limits, JSON-RPC corner cases, and its two entry points."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

import httpx
import pytest

from control_bridge.admin_client import AdminClient
from control_bridge.cli import register
from control_bridge.client import RpcControlPlane
from control_bridge.server import create_app
from tests.support import free_port

from .conftest import TOKEN

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def http(tmp_path: Path) -> httpx.AsyncClient:
    app = create_app(tmp_path / "cp.db", TOKEN, max_body_bytes=10_000)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://cp") as client:
        yield client
    await app.state.control.aclose()


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer nope"}, {"Authorization": f"Basic {TOKEN}"}, {"Authorization": TOKEN}],
)
async def test_bad_credentials_get_401_jsonrpc_error(
    http: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await http.post(
        "/rpc", json={"jsonrpc": "2.0", "id": 1, "method": "admin.listRuns"}, headers=headers
    )
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"]["code"] == -32001 and response.json()["id"] is None


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("{not json", -32700),
        ("[" * 5000 + "]" * 5000, -32700),
        ('{"jsonrpc": "2.0", "id": 1, "method": "no.such"}', -32601),
        ('{"jsonrpc": "2.0", "id": 1, "method": "run.heartbeat", "params": ["r1"]}', -32602),
        ('{"jsonrpc": "2.0", "id": 1, "method": "run.heartbeat", "params": {"runId": "r1"}}', -32004),
        ('{"jsonrpc": "2.0", "id": 1, "method": "admin.createRun", "params": {"input": ""}}', -32602),
        ("[]", -32600),
    ],
)
async def test_errors_are_jsonrpc_objects(http: httpx.AsyncClient, body: str, code: int) -> None:
    response = await http.post("/rpc", content=body, headers=AUTH)
    assert response.status_code == 200 and response.json()["error"]["code"] == code


async def test_oversized_body_is_413(http: httpx.AsyncClient) -> None:
    big = json.dumps(
        {"jsonrpc": "2.0", "id": 1, "method": "admin.createRun", "params": {"input": "x" * 20_000}}
    )
    response = await http.post("/rpc", content=big, headers=AUTH)
    assert response.status_code == 413 and response.json()["error"]["code"] == -32602


async def test_batch_and_notification(http: httpx.AsyncClient) -> None:
    create = {"jsonrpc": "2.0", "method": "admin.createRun", "params": {"input": "x", "runId": "n1"}}
    assert (await http.post("/rpc", json=create, headers=AUTH)).status_code == 204
    batch = [
        {"jsonrpc": "2.0", "id": 1, "method": "admin.getRun", "params": {"runId": "n1"}},
        {"jsonrpc": "2.0", "id": 2, "method": "admin.getRun", "params": {"runId": "missing"}},
    ]
    answers = {a["id"]: a for a in (await http.post("/rpc", json=batch, headers=AUTH)).json()}
    assert answers[1]["result"]["status"] == "pending" and answers[2]["error"]["code"] == -32004
    assert (await http.get("/health")).json()["status"] == "ok"


def test_cli_register_builds_serve_command() -> None:
    parser = argparse.ArgumentParser(prog="agent")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["control-plane", "serve", "--port", "9999", "--db", "x.db", "--token", "t"])
    assert (args.port, args.db, args.token, args.host) == (9999, "x.db", "t", "127.0.0.1")
    assert callable(args.fn) and not hasattr(
        args, "func"
    )  # one dispatch attribute, the one agent/cli.py reads


async def test_python_dash_m_serves(tmp_path: Path) -> None:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "control_bridge.server",
        "--port",
        str(port),
        "--db",
        str(tmp_path / "m.db"),
    ]
    proc = await asyncio.create_subprocess_exec(*command, "--token", TOKEN, "--log-level", "warning")
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as http:
            for _ in range(300):
                try:
                    if (await http.get(base + "/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
        rpc = RpcControlPlane(base + "/rpc", TOKEN)
        created = await AdminClient(rpc).create_run({"input": "hello"})
        assert (await AdminClient(rpc).get_run(created.run_id)).input == "hello"
        await rpc.aclose()
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 10)
