"""Issue 16 items 11 and 15: crafted inputs get typed errors, never a 500 or an `internal`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.conftest import Server, make_server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    yield from make_server(tmp_path)


def _nested(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


@pytest.mark.parametrize("depth", [100, 900, 5000, 100_000])
def test_deeply_nested_start_body_is_400(server: Server, depth: int) -> None:
    body = '{"input":"x","config":' + _nested(depth) + "}"
    if len(body) > 64 * 1024:
        body = '{"input":' + "[" * 30_000 + "]" * 30_000 + "}"
    r = server.client.post(
        "/start", content=body, headers={**server.auth, "content-type": "application/json"}
    )
    assert r.status_code == 400, r.text
    assert "nest" in r.json()["detail"]


@pytest.mark.parametrize("depth", [100, 900, 5000])
def test_deeply_nested_rpc_is_a_typed_error(server: Server, depth: int) -> None:
    body = (
        '{"jsonrpc":"2.0","id":1,"method":"run.start","params":{"input":"x","config":' + _nested(depth) + "}}"
    )
    r = server.client.post("/rpc", content=body, headers={**server.auth, "content-type": "application/json"})
    assert r.status_code == 200
    error = r.json()["error"]
    assert error["code"] == -32700 and error["data"]["maxDepth"] == 64


def test_moderate_nesting_is_still_accepted(server: Server) -> None:
    body = '{"input":"x","labels":{"k":"v"},"config":' + _nested(20) + "}"
    r = server.client.post(
        "/start", content=body, headers={**server.auth, "content-type": "application/json"}
    )
    assert r.status_code in (202, 400), r.text
    assert "nest" not in r.text
