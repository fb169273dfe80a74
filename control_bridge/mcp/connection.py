"""One configured MCP server: its connection, its tool list, and its process care.

A supervisor task per server owns the SDK `Client` (anyio wants a context entered and left by one task): it
connects (spawning a stdio server, or opening a streamable-HTTP session), lists the tools, then watches the
connection. When the process dies or the connection breaks it tears down, SIGKILLs whatever is left of the
process group, and reconnects after a backoff (0.25 s doubling to 30 s; reset after a minute of health).
Calls are made from the callers' tasks on the live client; a call that finds the server restarting waits
for it, bounded by the call's own timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import Any, Literal

import anyio
import httpx2
import mcp_types as mt
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.dispatcher import ProgressFnT
from mcp.shared.exceptions import MCPError
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import ValidationError

from control_bridge.contract import ToolFailureKind
from control_bridge.mcp import _procs
from control_bridge.mcp.config import ServerConfig

logger = logging.getLogger("control_bridge.mcp")
stderr_logger = logging.getLogger("control_bridge.mcp.stderr")

State = Literal["idle", "starting", "ready", "restarting", "failed", "stopped"]
ProgressFn = ProgressFnT
"""async (progress, total, message) -> None, called for each notifications/progress of the call."""
BACKOFF_S = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0)
HEALTHY_RESET_S = 60.0
WATCH_INTERVAL_S = 0.1
CLIENT_INFO = mt.Implementation(name="agent-container", version="0.1.0")


class McpCallError(Exception):
    """A call that did not produce an MCP result, typed with the loop's failure kinds."""

    def __init__(self, kind: ToolFailureKind, message: str, *, uncertain: bool = False) -> None:
        super().__init__(message)
        self.kind: ToolFailureKind = kind
        self.message = message
        self.uncertain = uncertain
        """The request reached the server, which may have acted on it."""


def _describe(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        return _describe(exc.exceptions[0])
    text = str(exc).strip() or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:300]


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(BaseException):
        await task


def _pump_stderr(fd: int, server: str) -> None:
    """Thread body: every line the server writes to stderr goes to our log, tagged with its name. Ends at
    EOF, when the server and everything it started have exited."""
    with os.fdopen(fd, "rb") as stream:
        for raw in stream:
            line = raw.decode(errors="replace").rstrip()
            if line:
                stderr_logger.info("[%s] %s", server, line, extra={"mcpServer": server})


class ServerConnection:
    def __init__(
        self, config: ServerConfig, *, on_tools_changed: Callable[[ServerConnection], None] | None = None
    ) -> None:
        self.config = config
        self.name = config.name
        self.state: State = "idle"
        self.error: str | None = None
        self.tools: list[mt.Tool] = []
        self.restarts = 0
        self.list_changed = 0
        """How many `notifications/tools/list_changed` refreshed the list."""
        self.pid: int | None = None
        self._on_tools_changed = on_tools_changed
        self._client: Client | None = None
        self._ready = asyncio.Event()
        self._attempted = asyncio.Event()
        self._wake = asyncio.Event()
        self._stopping = False
        self._broken: str | None = None
        self._runner: asyncio.Task[None] | None = None
        self._refreshing: asyncio.Task[None] | None = None

    # --- lifecycle -----------------------------------------------------------------------------------
    def start(self) -> None:
        if self._runner is None and not self._stopping:
            self.state = "starting"
            self._runner = asyncio.get_running_loop().create_task(self._supervise(), name=f"mcp-{self.name}")

    async def wait_attempted(self) -> None:
        """Until the first connection attempt succeeded or failed (bounded by the startup timeout)."""
        self.start()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.config.options.startup_timeout_ms / 1000 + 1):
                await self._attempted.wait()

    async def aclose(self) -> None:
        self._stopping = True
        self._wake.set()
        runner, self._runner = self._runner, None
        if runner is not None:
            try:
                async with asyncio.timeout(10):
                    await asyncio.shield(runner)
            except (TimeoutError, asyncio.CancelledError):
                runner.cancel()
                with contextlib.suppress(BaseException):
                    await runner
        if self.pid is not None:
            _procs.kill_group(self.pid)
        self.state = "stopped"

    @property
    def stopping(self) -> bool:
        """Set by `aclose` from another task (a property, so checks after an await are not narrowed away)."""
        return self._stopping

    async def _supervise(self) -> None:
        loop = asyncio.get_running_loop()
        attempt = 0
        while not self._stopping:
            began = loop.time()
            try:
                await self._connect_and_watch()
            except Exception as exc:
                self.error = _describe(exc)
                self.state = "failed"
                logger.warning("MCP server %r failed: %s", self.name, self.error)
            finally:
                self._client = None
                self._ready.clear()
                if self.pid is not None:  # the SDK leaves the group alone when its leader died first
                    _procs.kill_group(self.pid)
                    _procs.CLAIMED.discard(self.pid)
                    self.pid = None
                self._attempted.set()
            if self.stopping:
                break
            if loop.time() - began > HEALTHY_RESET_S:
                attempt = 0
            delay = BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)]
            attempt += 1
            if self.state != "failed":
                self.state = "restarting"
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()
            if not self.stopping:
                self.restarts += 1
                logger.info("restarting MCP server %r (restart %d)", self.name, self.restarts)

    async def _connect_and_watch(self) -> None:
        cfg = self.config
        async with AsyncExitStack() as stack:
            before: set[int] = set()
            if cfg.stdio is not None:
                read_fd, write_fd = os.pipe()
                errlog = os.fdopen(write_fd, "w")
                threading.Thread(
                    target=_pump_stderr,
                    args=(read_fd, self.name),
                    name=f"mcp-stderr-{self.name}",
                    daemon=True,
                ).start()
                params = StdioServerParameters(
                    command=cfg.stdio.command,
                    args=cfg.stdio.args,
                    env=cfg.stdio.env or None,
                    cwd=cfg.stdio.cwd,
                )
                transport: Any = stdio_client(params, errlog=errlog)
                before = _procs.session_children()
            else:
                assert cfg.http is not None
                http = httpx2.AsyncClient(headers=cfg.http.headers, timeout=httpx2.Timeout(30.0, read=300.0))
                stack.push_async_callback(http.aclose)
                transport = streamable_http_client(cfg.http.url, http_client=http)
            client = Client(transport, message_handler=self._on_message, cache=None, client_info=CLIENT_INFO)
            self._broken = None
            try:
                async with asyncio.timeout(cfg.options.startup_timeout_ms / 1000):
                    await stack.enter_async_context(client)
                    if cfg.stdio is not None:
                        self.pid = _procs.find_spawned(
                            before, cfg.stdio.command, cfg.stdio.args, _procs.CLAIMED
                        )
                        if self.pid is not None:
                            _procs.CLAIMED.add(self.pid)
                    self.tools = await self._list_tools(client)
            finally:
                if cfg.stdio is not None:
                    errlog.close()  # the child holds its own copy; EOF comes when it (and its children) exit
            self._client = client
            self.state = "ready"
            self.error = None
            self._ready.set()
            self._attempted.set()
            logger.info("MCP server %r ready: %d tools (%s)", self.name, len(self.tools), cfg.transport)
            listener: asyncio.Task[None] | None = None
            if client.protocol_version in MODERN_PROTOCOL_VERSIONS:
                # 2026-07-28 servers announce changes on a subscriptions/listen stream, not as notifications
                listener = asyncio.get_running_loop().create_task(self._listen(client))
                stack.push_async_callback(_cancel, listener)
            while not self._stopping and self._broken is None:
                if self.pid is not None and not _procs.alive(self.pid):
                    self._broken = "the server process exited"
                    break
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(WATCH_INTERVAL_S):
                        await self._wake.wait()
            if self._broken is not None:
                self.error = self._broken
                logger.warning("MCP server %r lost: %s", self.name, self._broken)
            self._client = None
            self._ready.clear()

    async def _list_tools(self, client: Client) -> list[mt.Tool]:
        tools: list[mt.Tool] = []
        cursor: str | None = None
        for _ in range(100):
            page = await client.list_tools(cursor=cursor, cache_mode="refresh")
            tools.extend(page.tools)
            cursor = page.next_cursor
            if cursor is None:
                break
        return tools

    async def _listen(self, client: Client) -> None:
        try:
            async with client.listen(tools_list_changed=True) as subscription:
                async for _event in subscription:
                    await self._refresh()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the server may not honour it; the tool list then stays as listed
            logger.info("MCP server %r: no tool-change subscription (%s)", self.name, _describe(exc))

    def _break(self, why: str) -> None:
        if self._broken is None:
            self._broken = why
        self._wake.set()

    async def _on_message(self, message: Any) -> None:
        if isinstance(message, Exception):
            logger.debug("MCP server %r transport: %s", self.name, _describe(message))
            return
        if getattr(message, "method", None) == "notifications/tools/list_changed":
            if self._refreshing is None or self._refreshing.done():
                self._refreshing = asyncio.get_running_loop().create_task(self._refresh())

    async def _refresh(self) -> None:
        if self._client is None:  # announced during the handshake: refresh once the session is up
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.config.options.startup_timeout_ms / 1000):
                    await self._ready.wait()
        client = self._client
        if client is None:
            return
        try:
            self.tools = await self._list_tools(client)
        except Exception as exc:
            logger.warning("MCP server %r: refreshing tools failed: %s", self.name, _describe(exc))
            return
        self.list_changed += 1
        logger.info("MCP server %r tools changed: %d tools", self.name, len(self.tools))
        if self._on_tools_changed is not None:
            self._on_tools_changed(self)

    # --- calls ---------------------------------------------------------------------------------------
    async def _live_client(self, wait_s: float) -> Client:
        self.start()
        if self._client is None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait_s):
                    await self._ready.wait()
        client = self._client
        if client is None:
            why = f": {self.error}" if self.error else ""
            raise McpCallError("unavailable", f"MCP server {self.name!r} is not running ({self.state}{why})")
        return client

    async def call(
        self, tool: str, arguments: dict[str, Any], *, timeout_s: float, progress: ProgressFn | None = None
    ) -> mt.CallToolResult:
        """Calls one tool. Cancelling the calling task makes the SDK send `notifications/cancelled`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        client = await self._live_client(min(timeout_s, self.config.options.startup_timeout_ms / 1000))
        left = max(0.001, deadline - loop.time())
        try:
            return await client.call_tool(
                tool, arguments, read_timeout_seconds=left, progress_callback=progress
            )
        except MCPError as exc:
            if exc.code == mt.REQUEST_TIMEOUT:
                raise McpCallError(
                    "timeout", f"{tool} did not answer within {timeout_s:g}s", uncertain=True
                ) from None
            if exc.code == mt.CONNECTION_CLOSED:
                self._break("the connection closed during a call")
                raise McpCallError(
                    "unavailable", f"MCP server {self.name!r} went away during the call", uncertain=True
                ) from None
            kind: ToolFailureKind = "invalid_call" if exc.code == mt.INVALID_PARAMS else "domain_rejection"
            raise McpCallError(kind, f"{tool}: {exc.message}"[:500]) from None
        except ValidationError as exc:
            raise McpCallError(
                "malformed_result", f"{tool} answered a malformed result: {exc.errors()[0]['msg']}"
            ) from None
        except (OSError, httpx2.HTTPError, anyio.ClosedResourceError, anyio.BrokenResourceError) as exc:
            self._break(_describe(exc))
            raise McpCallError(
                "unavailable", f"MCP server {self.name!r} unreachable: {_describe(exc)}", uncertain=True
            ) from None

    def status(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "transport": self.config.transport,
            "state": self.state,
            "tools": len(self.tools) if self.state == "ready" else 0,
            "restarts": self.restarts,
        }
        if self.error:
            out["error"] = self.error
        return out
