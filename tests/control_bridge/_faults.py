"""An ASGI wrapper that misbehaves on a seeded fraction of calls, the way a real network and peer do."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from typing import Any

Scope = dict[str, Any]
FAULTS = ("drop_before", "drop_after", "status_503", "garbage_after", "timeout_after")


class FaultInjector:
    """Wraps an ASGI app. Faults named `*_after` let the real app process the call first, then lose or spoil
    the answer: that is the case idempotency and de-duplication exist for."""

    def __init__(self, app: Any, rate: float, seed: int = 1, stall_s: float = 0.6) -> None:
        self.app = app
        self.rate = rate
        self.rng = random.Random(seed)
        self.stall_s = stall_s
        self.injected: Counter[str] = Counter()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != "/rpc" or self.rng.random() >= self.rate:
            await self.app(scope, receive, send)
            return
        fault = self.rng.choice(FAULTS)
        self.injected[fault] += 1
        if fault == "status_503":
            await _respond(send, 503, b"upstream unavailable")
            return
        if fault == "drop_before":
            await _half_response_then_drop(send)
            return
        await self.app(scope, receive, _discard)
        if fault == "drop_after":
            await _half_response_then_drop(send)
        elif fault == "garbage_after":
            await _respond(send, 200, b'{"jsonrpc": "2.0", "id": "\x00garbage')
        else:
            await asyncio.sleep(self.stall_s)
            await _respond(send, 504, b"too slow")


async def _discard(_message: dict[str, Any]) -> None:
    return None


async def _respond(send: Any, status: int, body: bytes) -> None:
    await send(
        {"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/plain")]}
    )
    await send({"type": "http.response.body", "body": body})


class DroppedConnection(Exception):
    """Raised after the headers went out: the server closes the connection mid-response."""


async def _half_response_then_drop(send: Any) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", b"1000")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b'{"jsonrpc"', "more_body": True})
    raise DroppedConnection
