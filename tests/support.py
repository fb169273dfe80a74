"""Real servers on real sockets for tests: uvicorn in a background thread on a free loopback port."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from httpx_sse import connect_sse


def free_port() -> int:
    """A loopback port free a moment ago (for a subprocess that binds it itself)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Runs an ASGI app on 127.0.0.1:<free port>; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def write_script(path: Path, turns: list[dict[str, Any]]) -> str:
    """Writes a scripted-model file and returns the `scripted:FILE` model spec."""
    path.write_text(json.dumps({"turns": turns}))
    return f"scripted:{path}"


def read_sse(
    client: httpx.Client, url: str, headers: dict[str, str] | None = None, timeout: float = 30
) -> list[dict[str, Any]]:
    """Reads an SSE stream to its end (httpx-sse does the parsing); returns [{id, event, data}] in order."""
    events: list[dict[str, Any]] = []
    with connect_sse(client, "GET", url, headers=headers, timeout=timeout) as source:
        source.response.raise_for_status()
        for sse in source.iter_sse():
            frame: dict[str, Any] = {"event": sse.event, "data": sse.json()}
            if sse.id:
                frame["id"] = int(sse.id)
            events.append(frame)
            if sse.event == "stream.end":
                break
    return events


def rpc(
    client: httpx.Client, url: str, method: str, params: Any = None, id_: Any = 1, **kw: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "id": id_}
    if params is not None:
        body["params"] = params
    response = client.post(f"{url}/rpc", json=body, **kw)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


@contextmanager
def tmpfs(path: Path, options: str, why: str) -> Iterator[Path]:
    """A tmpfs mounted at `path` for the block (skips the test where mounting needs root it lacks)."""
    import pytest

    path.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount {why} (needs root): {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)
