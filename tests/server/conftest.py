from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from agent.server.app import create_app
from agent.settings import Settings
from tests.support import serve

TOKEN = "test-token-0123456789abcdef"


@dataclass
class Server:
    url: str
    app: object
    client: httpx.Client
    token: str | None

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    @property
    def services(self):  # type: ignore[no-untyped-def]
        return self.app.state.services  # type: ignore[attr-defined]


def make_server(tmp_path: Path, **overrides: object) -> Iterator[Server]:
    values: dict[str, object] = {
        "data_dir": tmp_path / "data",
        "start_token": TOKEN,
        "memory_embedder": "hash",
        "heartbeat_interval_s": 0.5,
        "scripts_dir": tmp_path,  # tests write their scripted-model files in tmp_path
    }
    values.update(overrides)
    settings = Settings(**values)  # type: ignore[arg-type]
    app = create_app(settings)
    with serve(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield Server(url, app, client, app.state.services.start_token)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    yield from make_server(tmp_path)
