from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from agent.models.fake_server import ModelServer
from tests.durability.procs import wait_http
from tests.support import free_port
from tests.takos.fake_worker import FakeTakos

START_TOKEN = "takos-start-token-0123456789"


class TakosContainer:
    """The container as Takos's container host starts it: the injected environment, port, a subprocess."""

    def __init__(self, data_dir: Path, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        environ = {
            k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "VIRTUAL_ENV", "TMPDIR")
        }
        environ.update(
            {
                # What executor-proxy-config.ts and the host inject (CONTRACT.md §2), on loopback.
                "TAKOS_AGENT_BIND_HOST": "127.0.0.1",
                "TAKOS_AGENT_CONTROL_RPC_BASE_URL": "",
                "TAKOS_AGENT_TOOL_ALLOWLIST": "*",
                "TAKOS_AGENT_START_TOKEN": START_TOKEN,
                "EXECUTOR_TIER": "1",
                "MAX_CONCURRENT_RUNS": "4",
                "PORT": str(self.port),
                "CONTROL_PROTOCOL": "takos",
                "DATA_DIR": str(data_dir),
                "MEMORY_EMBEDDER": "hash",
                "HF_HUB_OFFLINE": "1",
                "HEARTBEAT_INTERVAL_S": "0.5",
                "SHUTDOWN_GRACE_S": "5",
                "LOG_LEVEL": "DEBUG",  # (so a leaked secret would show in the logs the tests read)
                **env,
            }
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "agent.cli", "serve"], env=environ, stderr=subprocess.PIPE
        )
        wait_http(f"{self.url}/health", self.proc)

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def stop_and_read_logs(self) -> str:
        self.stop()
        return (self.proc.stderr.read() if self.proc.stderr else b"").decode("utf-8", "replace")

    def health(self) -> httpx.Response:
        return httpx.get(f"{self.url}/health", timeout=5)


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Like tests.support.serve, on an IPPROTO_TCP socket: uvicorn then sets TCP_NODELAY, so no call waits
    ~40 ms for a delayed ACK on loopback."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("fake Worker did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@pytest.fixture
def model_server() -> Iterator[ModelServer]:
    with ModelServer(api_key="sk-takos-run-key") as server:
        yield server


@pytest.fixture
def worker(model_server: ModelServer) -> Iterator[FakeTakos]:
    fake = FakeTakos(openai_endpoint=f"{model_server.url}/v1/chat/completions")
    with serve(fake.app) as url:
        fake.url = url
        yield fake


@pytest.fixture
def container(tmp_path: Path) -> Iterator[TakosContainer]:
    proc = TakosContainer(tmp_path / "data")
    yield proc
    proc.stop()
