"""Issue 16 item 16: `--dev` (no token) refuses what a web page could send: a foreign Host (DNS rebinding)
and a cross-origin request (a text/plain POST needs no CORS preflight)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.conftest import Server, make_server

HEALTH_RPC = '{"jsonrpc":"2.0","id":1,"method":"agent.health"}'


@pytest.fixture
def dev(tmp_path: Path) -> Iterator[Server]:
    yield from make_server(tmp_path, start_token=None, dev=True)


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example", "Content-Type": "text/plain"},
        {"Origin": "null", "Content-Type": "text/plain"},
        {"Origin": "http://localhost.evil.example:8080"},
        {"Host": "evil.example"},
        {"Host": "rebind.evil.example:8080", "Origin": "http://rebind.evil.example:8080"},
        {"Sec-Fetch-Site": "cross-site"},
    ],
)
def test_dev_refuses_foreign_host_and_origin(dev: Server, headers: dict[str, str]) -> None:
    for path, body in (("/rpc", HEALTH_RPC), ("/start", '{"input":"hi"}')):
        r = dev.client.post(path, content=body, headers=headers)
        assert r.status_code == 403, (path, r.text)
        assert r.json()["error"] == "forbidden"
    r = dev.client.get("/runs/run_x/events", headers=headers)
    assert r.status_code == 403
    assert dev.services.manager.active == 0 and not dev.services.manager.runs


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Origin": "http://localhost"},
        {"Host": "localhost:8080", "Origin": "http://localhost:8080"},
        {"Host": "127.0.0.1:9", "Origin": "http://127.0.0.1:3000"},
        {"Host": "[::1]:8080", "Origin": "http://[::1]:8080"},
        {"Sec-Fetch-Site": "same-origin"},
    ],
)
def test_dev_accepts_loopback_host_and_origin(dev: Server, headers: dict[str, str]) -> None:
    r = dev.client.post("/rpc", content=HEALTH_RPC, headers={**headers, "Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    assert r.json()["result"]["status"] == "ok"


def test_token_mode_is_unchanged_by_origin(tmp_path: Path) -> None:
    for server in make_server(tmp_path):
        r = server.client.post(
            "/rpc", content=HEALTH_RPC, headers={**server.auth, "Origin": "http://elsewhere.example"}
        )
        assert r.status_code == 200
