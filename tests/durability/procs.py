"""Real processes for durability tests: the container and the reference control plane as subprocesses."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from control_bridge.admin_client import AdminClient
from control_bridge.client import RpcControlPlane
from tests.support import free_port

TOKEN = "durability-token-0123456789"
CP_TOKEN = "control-plane-token-0123456789"


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"process exited early with {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}"
            )
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} never became healthy")


class ControlPlaneProc:
    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/rpc"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "control_bridge.server",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--db",
                str(tmp / "control-plane.db"),
                "--token",
                CP_TOKEN,
                "--log-level",
                "warning",
            ],
            stderr=subprocess.PIPE,
        )
        wait_http(f"http://127.0.0.1:{self.port}/health", self.proc)

    def admin(self, fn_name: str, *args: Any, **kw: Any) -> Any:
        async def call() -> Any:
            rpc = RpcControlPlane(self.url, CP_TOKEN)
            try:
                return await getattr(AdminClient(rpc), fn_name)(*args, **kw)
            finally:
                await rpc.aclose()

        return asyncio.run(call())

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


class ContainerProc:
    def __init__(self, data_dir: Path, control_url: str | None = None, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        environ = {
            k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "VIRTUAL_ENV", "TMPDIR")
        }
        environ.update(
            {
                "DATA_DIR": str(data_dir),
                "START_TOKEN": TOKEN,
                "PORT": str(self.port),
                "HOST": "127.0.0.1",
                "MEMORY_EMBEDDER": "hash",
                "HF_HUB_OFFLINE": "1",
                "HEARTBEAT_INTERVAL_S": "0.5",
                "SHUTDOWN_GRACE_S": "5",
                "SCRIPTS_DIR": str(data_dir.parent),  # tests write scripted-model files beside DATA_DIR
                **env,
            }
        )
        if control_url:
            environ.update({"CONTROL_RPC_URL": control_url, "CONTROL_RPC_TOKEN": CP_TOKEN})
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "agent.cli", "serve"], env=environ, stderr=subprocess.PIPE
        )
        wait_http(f"{self.url}/health", self.proc)
        self.client = httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
        )

    def start(self, body: dict[str, Any]) -> httpx.Response:
        return self.client.post("/start", json=body)

    def rpc(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        return self.client.post(
            "/rpc", json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
        ).json()

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.client.close()

    def sigterm(self, timeout: float = 30) -> int:
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        self.client.close()
        return code

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.client.close()


class CountingToolServer:
    """An HTTP tool endpoint that counts executions per argument `n` and takes `delay_s` to answer."""

    def __init__(self, delay_s: float = 0.3) -> None:
        self.counts: Counter[int] = Counter()
        self.started = threading.Condition()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
                n = int((body.get("arguments") or body).get("n", -1))
                with outer.started:
                    outer.counts[n] += 1
                    outer.started.notify_all()
                time.sleep(delay_s)
                payload = json.dumps({"n": n, "ok": True}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/tool"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, calls: int, timeout: float = 30) -> None:
        with self.started:
            if not self.started.wait_for(lambda: sum(self.counts.values()) >= calls, timeout):
                raise AssertionError(f"tool never reached {calls} calls: {self.counts}")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
