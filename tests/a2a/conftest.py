"""A real server (MODEL=a2a-conformance) on a real socket, and the official a2a-sdk client against it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from a2a.client import ClientConfig, create_client
from a2a.client.client import Client
from a2a.types import Message, Part, Role, SendMessageRequest, StreamResponse

from agent.server.app import create_app
from agent.settings import Settings
from tests.server.conftest import TOKEN, Server
from tests.support import serve


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    settings = Settings(
        data_dir=tmp_path / "data",
        start_token=TOKEN,
        memory_embedder="hash",
        heartbeat_interval_s=0.5,
        model="a2a-conformance",
    )
    app = create_app(settings)
    with serve(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield Server(url, app, client, TOKEN)


@asynccontextmanager
async def a2a_client(url: str, *, streaming: bool = True, polling: bool = False) -> AsyncIterator[Client]:
    """The SDK client, resolved from the server's public card, sending the bearer token."""
    http = httpx.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    try:
        client = await create_client(
            url, ClientConfig(httpx_client=http, streaming=streaming, polling=polling)
        )
        yield client
    finally:
        await http.aclose()


def user_message(prefix: str, text: str = "hello", **ids: str) -> Message:
    return Message(
        message_id=f"{prefix}-{uuid.uuid4().hex[:8]}",
        role=Role.ROLE_USER,
        parts=[Part(text=text)],
        task_id=ids.get("task_id", ""),
        context_id=ids.get("context_id", ""),
    )


def send_request(message: Message, **config: Any) -> SendMessageRequest:
    request = SendMessageRequest(message=message)
    for key, value in config.items():
        setattr(request.configuration, key, value)
    return request


async def collect(stream: AsyncIterator[StreamResponse]) -> list[StreamResponse]:
    return [event async for event in stream]


async def send_one(client: Client, message: Message, **config: Any) -> StreamResponse:
    """A non-streaming send (the client yields exactly one response)."""
    events = await collect(client.send_message(send_request(message, **config)))
    assert len(events) == 1
    return events[0]


def rpc(server: Server, method: str, params: dict[str, Any], **headers: str) -> dict[str, Any]:
    """A raw JSON-RPC call to /a2a (for what the SDK client never sends: bad versions, bad bodies)."""
    response = server.client.post(
        "/a2a",
        json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params},
        headers={**server.auth, "A2A-Version": "1.0", **headers},
    )
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]
