"""Issue 16 item 8: slow headers and slow bodies are cut off, connections are capped, and a flood of bad
requests cannot flood the log. Against `agent serve` in a subprocess (the real uvicorn configuration)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.durability.procs import ContainerProc


@pytest.fixture
def container(tmp_path: Path) -> Iterator[ContainerProc]:
    proc = ContainerProc(
        tmp_path / "data",
        HTTP_HEADER_TIMEOUT_S="1",
        HTTP_BODY_TIMEOUT_S="1.5",
        HTTP_MAX_CONNECTIONS="40",
        LOG_MAX_PER_S="5",
    )
    yield proc
    proc.stop()


def _connect(container: ContainerProc) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", container.port), timeout=5)
    return sock


def _closed_within(sock: socket.socket, seconds: float) -> bool:
    """Whether the server closes the connection within `seconds` (reading what it sends meanwhile)."""
    sock.settimeout(0.2)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if sock.recv(65536) == b"":
                return True
        except TimeoutError:
            continue
        except OSError:
            return True
    return False


def test_slow_headers_are_cut_off(container: ContainerProc) -> None:
    sock = _connect(container)
    sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
    began = time.monotonic()
    for _ in range(6):  # a byte every half second never completes the headers
        try:
            sock.sendall(b"X")
        except OSError:
            break
        time.sleep(0.5)
        if _closed_within(sock, 0.01):
            break
    assert _closed_within(sock, 3)
    assert time.monotonic() - began < 4.5
    sock.close()


def test_an_idle_connection_is_cut_off(container: ContainerProc) -> None:
    sock = _connect(container)
    assert _closed_within(sock, 3)


def test_slow_body_gets_408(container: ContainerProc) -> None:
    sock = _connect(container)
    sock.sendall(
        b"POST /rpc HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
        + container.client.headers["authorization"].split()[1].encode()
        + b"\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
    )
    began = time.monotonic()
    answer = b""
    sock.settimeout(0.5)
    while time.monotonic() - began < 6:
        try:
            sock.sendall(b" ")
        except OSError:
            break
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        if not chunk:
            break
        answer += chunk
        if b"\r\n\r\n" in answer:
            break
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert time.monotonic() - began < 4
    sock.close()


def test_many_unfinished_headers_do_not_starve_health(container: ContainerProc) -> None:
    socks = []
    for _ in range(200):
        try:
            s = socket.create_connection(("127.0.0.1", container.port), timeout=2)
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
            socks.append(s)
        except OSError:
            break
    try:
        time.sleep(0.3)
        # Past the cap the server answers 503 or drops the connection at once, never hangs.
        began = time.monotonic()
        try:
            r = httpx.get(f"{container.url}/health", timeout=5)
            assert r.status_code in (200, 503)
        except httpx.TransportError:
            pass
        assert time.monotonic() - began < 2
        # Once the header timeout reaps the slow ones, /health answers normally.
        time.sleep(1.5)
        assert httpx.get(f"{container.url}/health", timeout=5).status_code == 200
    finally:
        for s in socks:
            s.close()


def test_a_flood_of_bad_requests_writes_bounded_log(container: ContainerProc) -> None:
    for _ in range(300):
        with socket.create_connection(("127.0.0.1", container.port), timeout=2) as s:
            s.sendall(b"\x16\x03\x01 not http at all\r\n\r\n")
            try:
                s.recv(100)
            except OSError:
                pass
    time.sleep(0.3)
    container.proc.kill()
    container.proc.wait(10)
    log = container.proc.stderr.read() if container.proc.stderr else b""
    assert log.count(b"Invalid HTTP request") <= 30, log.count(b"Invalid HTTP request")
    assert len(log) < 100_000
