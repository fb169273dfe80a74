"""A scripted model server on a real socket, speaking OpenAI Chat Completions and Anthropic Messages.

For tests and benchmarks, never for production. It replays a script of replies in order, whichever wire
format asked, streaming or not, and can inject faults::

    with ModelServer() as server:
        server.script([Fault(429, retry_after=0.1), Reply(text="hello"), Reply(tool_calls=[...])])
        model = OpenAICompatModel("m", base_url=server.openai_base_url)    # …/v1/chat/completions
        model = AnthropicModel("m", base_url=server.anthropic_base_url)    # …/v1/messages

A script item may also be a function of the recorded request returning a Reply or Fault. When the script
runs out the server answers 400 "script exhausted" (not retried, so the mistake shows at once), unless
`default` is set. Every request is kept in `server.requests`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from agent.models._wire import (
    Reply,
    ToolCallReply,
    anthropic_body,
    anthropic_error,
    anthropic_events,
    openai_body,
    openai_error,
    openai_events,
)

__all__ = ["Fault", "ModelServer", "Recorded", "Reply", "ScriptItem", "ToolCallReply"]


@dataclass
class Fault:
    """An error answer: 429 (with Retry-After), 401, 500, 529 … in the provider's own error shape."""

    status: int
    retry_after: float | None = None
    message: str = ""
    error_type: str | None = None

    def __post_init__(self) -> None:
        self.message = self.message or f"scripted fault {self.status}"


@dataclass
class Recorded:
    format: str
    """"openai" or "anthropic"."""
    path: str
    headers: dict[str, str]
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream"))


ScriptItem = Reply | Fault | Callable[[Recorded], "Reply | Fault"]


class _Aborted(Exception):
    """Raised inside a streaming body: uvicorn drops the connection without finishing the chunked body."""


class ModelServer:
    def __init__(self, *, api_key: str | None = None, default: ScriptItem | None = None) -> None:
        self.api_key = api_key
        """When set, requests without this key (Bearer or x-api-key) get 401."""
        self.default = default
        """Answers when the script is empty (a Reply, a Fault or a function of the request)."""
        self.requests: list[Recorded] = []
        self._items: deque[ScriptItem] = deque()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self.app = Starlette(
            routes=[
                Route("/v1/chat/completions", self._openai, methods=["POST"]),
                Route("/chat/completions", self._openai, methods=["POST"]),
                Route("/v1/messages", self._anthropic, methods=["POST"]),
            ]
        )

    # --- scripting -------------------------------------------------------------------------------------
    def script(self, items: Iterable[ScriptItem]) -> ModelServer:
        """Replaces the script and forgets recorded requests."""
        with self._lock:
            self._items = deque(items)
            self.requests.clear()
        return self

    def add(self, *items: ScriptItem) -> ModelServer:
        with self._lock:
            self._items.extend(items)
        return self

    @property
    def remaining(self) -> int:
        return len(self._items)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def openai_base_url(self) -> str:
        return f"{self.url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.url

    def _next(self, recorded: Recorded) -> Reply | Fault:
        with self._lock:
            self.requests.append(recorded)
            item = self._items.popleft() if self._items else self.default
        if item is None:
            return Fault(400, message="model server script exhausted", error_type="invalid_request_error")
        return item if isinstance(item, Reply | Fault) else item(recorded)

    # --- handlers --------------------------------------------------------------------------------------
    async def _record(self, request: Request, fmt: str) -> tuple[Recorded, Reply | Fault]:
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = {}
        recorded = Recorded(
            fmt, request.url.path, dict(request.headers), body if isinstance(body, dict) else {}
        )
        if self.api_key is not None:
            given = request.headers.get("x-api-key") or request.headers.get("authorization", "").removeprefix(
                "Bearer "
            )
            if given != self.api_key:
                with self._lock:
                    self.requests.append(recorded)
                return recorded, Fault(401, message="invalid api key")
        return recorded, self._next(recorded)

    def _fault(self, fault: Fault, fmt: str, rid: str) -> Response:
        headers = {"x-request-id" if fmt == "openai" else "request-id": rid}
        if fault.retry_after is not None:
            headers["retry-after"] = f"{fault.retry_after:g}"
        make = openai_error if fmt == "openai" else anthropic_error
        return JSONResponse(
            make(fault.status, fault.message, fault.error_type), fault.status, headers=headers
        )

    async def _respond(self, request: Request, fmt: str) -> Response:
        recorded, item = await self._record(request, fmt)
        rid = f"req_{next(self._ids)}"
        if isinstance(item, Fault):
            return self._fault(item, fmt, rid)
        model = str(recorded.body.get("model") or "scripted")
        id_header = {"x-request-id" if fmt == "openai" else "request-id": rid}
        if not recorded.stream:
            body = openai_body(item, model, rid) if fmt == "openai" else anthropic_body(item, model, rid)
            return JSONResponse(body, headers=id_header)
        if fmt == "openai":
            include = bool((recorded.body.get("stream_options") or {}).get("include_usage"))
            events = openai_events(item, model, rid, include_usage=include)
        else:
            events = anthropic_events(item, model, rid)
        headers = {**id_header, "cache-control": "no-cache"}
        return StreamingResponse(_paced(events, item), media_type="text/event-stream", headers=headers)

    async def _openai(self, request: Request) -> Response:
        return await self._respond(request, "openai")

    async def _anthropic(self, request: Request) -> Response:
        return await self._respond(request, "anthropic")

    # --- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> ModelServer:
        # proto must be IPPROTO_TCP: asyncio only sets TCP_NODELAY on such sockets, and without it every
        # response waits ~40 ms for a delayed ACK (Nagle) on loopback.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app, log_level="critical", access_log=False, lifespan="off", ws="none", timeout_keep_alive=30
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        ready = threading.Event()
        for _ in range(500):
            if self._server.started:
                ready.set()
                break
            ready.wait(0.01)
        if not ready.is_set():
            raise RuntimeError("model server did not start")
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> ModelServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


async def _paced(events: Iterator[bytes], reply: Reply) -> AsyncIterator[bytes]:
    for n, event in enumerate(events):
        if reply.cut_after is not None and n >= reply.cut_after:
            if reply.cut_clean:
                return
            raise _Aborted("scripted cut")
        if reply.chunk_delay and n:
            await asyncio.sleep(reply.chunk_delay)
        yield event
