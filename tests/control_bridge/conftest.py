"""Fixtures: one `plane` fixture parameterised over the embedded control plane in-process and the reference
server on a real socket reached through the JSON-RPC client, so the conformance suite runs against both."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from control_bridge.admin_client import AdminClient
from control_bridge.client import RetryPolicy, RpcControlPlane
from control_bridge.embedded import EmbeddedControlPlane
from control_bridge.protocol import ControlPlaneBase
from control_bridge.server import create_app

from ._server import serve_in_thread

TOKEN = "test-token-123"


@dataclass
class Plane:
    """The contract side (what the container uses) and the admin side (what the platform/test drives)."""

    kind: str
    control: ControlPlaneBase
    admin: Any


@pytest.fixture
def server_url(tmp_path: Path) -> Iterator[str]:
    """The reference control plane on a real socket (fresh database per test)."""
    with serve_in_thread(create_app(tmp_path / "server.db", TOKEN)) as base:
        yield base + "/rpc"


@pytest.fixture(params=["embedded", "rpc"])
async def plane(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Plane]:
    if request.param == "embedded":
        cp = EmbeddedControlPlane(tmp_path / "cp.db")
        yield Plane("embedded", cp, cp)
        await cp.aclose()
    else:
        url = request.getfixturevalue("server_url")
        rpc = RpcControlPlane(url, TOKEN, retry=RetryPolicy(max_attempts=2, base_delay_s=0.01))
        yield Plane("rpc", rpc, AdminClient(rpc))
        await rpc.aclose()
