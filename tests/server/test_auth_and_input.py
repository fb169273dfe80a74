"""Auth, bad input and capacity against the real server: typed errors, never a 500, nothing half-written."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.server.conftest import Server, make_server
from tests.support import read_sse, rpc, write_script


@pytest.fixture
def tokenless(tmp_path: Path) -> Iterator[Server]:
    """No START_TOKEN configured and not --dev: the server generates one at start."""
    yield from make_server(tmp_path, start_token=None)


@pytest.mark.parametrize("path", ["/start", "/rpc"])
@pytest.mark.parametrize("header", [None, "Bearer wrong-token-wrong-token", "Basic abc", "Bearer"])
def test_missing_or_wrong_token_is_401_json(server: Server, path: str, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    response = server.client.post(path, json={"input": "x"}, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert response.headers["www-authenticate"] == "Bearer"


def test_event_stream_needs_the_token_too(server: Server) -> None:
    assert server.client.get("/runs/x/events").status_code == 401


def test_generated_token_is_enforced(tokenless: Server) -> None:
    assert tokenless.token and len(tokenless.token) >= 32
    assert (
        tokenless.client.post("/rpc", json={"jsonrpc": "2.0", "method": "agent.health", "id": 1}).status_code
        == 401
    )
    ok = rpc(tokenless.client, tokenless.url, "agent.health", headers=tokenless.auth)
    assert ok["result"]["status"] == "ok"


def test_dev_mode_refuses_non_loopback_host() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "agent.cli", "serve", "--dev", "--host", "0.0.0.0", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert "loopback" in proc.stderr


def test_dev_mode_needs_no_token(tmp_path: Path) -> None:
    for server in make_server(tmp_path, start_token=None, dev=True):
        assert rpc(server.client, server.url, "agent.health")["result"]["status"] == "ok"


def post_rpc(server: Server, content: bytes | str) -> httpx.Response:
    return server.client.post(
        "/rpc", content=content, headers={**server.auth, "Content-Type": "application/json"}
    )


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b'{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]', -32700),
        (b"\xff\xfe not utf8", -32700),
        (b"42", -32600),
        (b'"run.get"', -32600),
        (b'{"jsonrpc": "2.0", "method": 1, "params": "bar"}', -32600),
        (b'{"jsonrpc": "2.0", "method": "no.such", "id": 1}', -32601),
        (b'{"jsonrpc": "2.0", "method": "run.get", "params": {"runId": 5}, "id": 1}', -32602),
        (b'{"jsonrpc": "2.0", "method": "run.get", "params": ["x"], "id": 1}', -32602),
        (b'{"jsonrpc": "2.0", "method": "run.get", "params": {"runId": "nope"}, "id": 1}', -32004),
        (
            b'{"jsonrpc": "2.0", "method": "run.start", "params": {"input": "x", "sessionId": "  "}, "id": 1}',
            -32602,
        ),
        (b'{"jsonrpc": "2.0", "method": "run.start", "params": {"bogus": 1}, "id": 1}', -32602),
        (
            b'{"jsonrpc": "2.0", "method": "run.events", "params": {"runId": "x", "profile": "loud"}, "id": 1}',
            -32602,
        ),
    ],
)
def test_bad_jsonrpc_gets_the_right_error(server: Server, body: bytes, code: int) -> None:
    response = post_rpc(server, body)
    assert response.status_code == 200
    answer = response.json()
    assert answer["jsonrpc"] == "2.0"
    assert answer["error"]["code"] == code
    assert "Traceback" not in response.text


def test_batch_with_invalid_members_and_notifications(server: Server) -> None:
    body = (
        b'[{"jsonrpc": "2.0", "method": "agent.health", "id": "a"}, 1,'
        b' {"jsonrpc": "2.0", "method": "agent.health"}, {"foo": "boo"},'
        b' {"jsonrpc": "2.0", "method": "nope", "id": "b"}]'
    )
    answers = post_rpc(server, body).json()
    assert [a.get("id") for a in answers] == ["a", None, None, "b"]
    assert answers[0]["result"]["status"] == "ok"
    assert [a["error"]["code"] for a in answers[1:]] == [-32600, -32600, -32601]


def test_notifications_only_get_204(server: Server) -> None:
    assert post_rpc(server, b'{"jsonrpc": "2.0", "method": "agent.health"}').status_code == 204
    assert post_rpc(server, b'[{"jsonrpc": "2.0", "method": "agent.health"}]').status_code == 204


def test_empty_batch_is_one_invalid_request(server: Server) -> None:
    assert post_rpc(server, b"[]").json()["error"]["code"] == -32600


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 400),
        (b"[1, 2]", 400),
        (b'{"runId": ""}', 400),
        (b'{"input": "x", "sessionId": ""}', 400),
        (b'{"input": "x", "sessionId": "   "}', 400),
        (b'{"input": "x", "leaseVersion": -1}', 400),
        (b'{"input": "x", "unknownField": 1}', 400),
        (b"{}", 400),
    ],
)
def test_bad_start_bodies_are_400_and_create_nothing(server: Server, body: bytes, status: int) -> None:
    response = server.client.post("/start", content=body, headers=server.auth)
    assert response.status_code == status
    assert "error" in response.json()
    assert server.services.manager.runs == {}
    assert not (server.services.settings.data_dir / "control.db").exists() or _run_count(server) == 0


def _run_count(server: Server) -> int:
    import sqlite3

    conn = sqlite3.connect(server.services.settings.data_dir / "control.db")
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        return conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0] if "runs" in tables else 0
    finally:
        conn.close()


def test_oversize_bodies_are_413(server: Server) -> None:
    big = b'{"input": "' + b"x" * (70 * 1024) + b'"}'
    assert server.client.post("/start", content=big, headers=server.auth).status_code == 413
    huge = (
        b'{"jsonrpc": "2.0", "method": "agent.health", "params": {"x": "' + b"y" * (5 * 1024 * 1024) + b'"}}'
    )
    assert post_rpc(server, huge).status_code == 413
    assert server.services.manager.runs == {}


def test_unknown_run_stream_is_404_and_bad_profile_400(server: Server) -> None:
    assert server.client.get("/runs/nope/events", headers=server.auth).status_code == 404
    assert server.client.get("/runs/nope/events?profile=x", headers=server.auth).status_code == 400


def test_capacity_refuses_exactly_one(tmp_path: Path) -> None:
    for server in make_server(tmp_path, max_concurrent_runs=3):
        model = write_script(tmp_path / "slow.json", [{"text": "done", "delay_ms": 1500}])

        def start(i: int) -> httpx.Response:
            return server.client.post(
                "/start", json={"input": f"run {i}", "model": model}, headers=server.auth
            )

        with ThreadPoolExecutor(max_workers=4) as pool:
            responses = list(pool.map(start, range(4)))
        codes = sorted(r.status_code for r in responses)
        assert codes == [202, 202, 202, 503]
        refused = next(r for r in responses if r.status_code == 503).json()
        assert refused == {"error": "at capacity", "active": 3, "max": 3}
        health = server.client.get("/health").json()["runs"]
        assert health == {"active": 3, "max": 3, "available": 0}
        # JSON-RPC admission says the same, as a typed error.
        answer = rpc(
            server.client, server.url, "run.start", {"input": "one more", "model": model}, headers=server.auth
        )
        assert answer["error"]["code"] == -32050
        for r in responses:
            if r.status_code == 202:
                events = read_sse(server.client, f"/runs/{r.json()['runId']}/events", headers=server.auth)
                assert events[-2]["event"] == "run.completed"


def test_start_maps_control_plane_refusals_and_bad_urls(server: Server, tmp_path: Path) -> None:
    slow = write_script(tmp_path / "slow.json", [{"text": "done", "delay_ms": 2000}])
    first = server.client.post(
        "/start", json={"runId": "same-id", "input": "one", "model": slow}, headers=server.auth
    )
    assert first.status_code == 202
    server.services.manager.runs.pop("same-id")  # as after a restart: unknown here, known to the plane
    again = server.client.post("/start", json={"runId": "same-id", "input": "two"}, headers=server.auth)
    assert again.status_code == 409 and "conflict" in again.json()["error"]
    bad = server.client.post(
        "/start", json={"runId": "x", "controlRpcBaseUrl": "not a url"}, headers=server.auth
    )
    assert bad.status_code == 400


def test_absurd_sequence_numbers_are_client_errors(server: Server) -> None:
    server.client.post("/start", json={"runId": "seq-run", "input": "hi"}, headers=server.auth)
    huge = "9" * 25
    sse = server.client.get("/runs/seq-run/events", headers={**server.auth, "Last-Event-ID": huge})
    assert sse.status_code == 400
    assert server.client.get(f"/runs/seq-run/events?after={huge}", headers=server.auth).status_code == 422
    answer = rpc(
        server.client, server.url, "run.events", {"runId": "seq-run", "after": int(huge)}, headers=server.auth
    )
    assert answer["error"]["code"] == -32602
