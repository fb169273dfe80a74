"""`/mcp`: the container's local memory and skill tools served over MCP (streamable HTTP, official SDK).

An IDE or another agent can search this container's memory with any MCP client. The endpoint:
- takes the same bearer token as `/rpc` (compared in constant time; `--dev` serves loopback without one);
- is scoped to one memory space per request: header `X-Space-Id` or query parameter `space` (default
  `default`);
- is read-only by default: the four memory tools and the five skill tools (official catalog), all without
  side effects; `memory_write` is offered only with `MCP_MEMORY_WRITE=true`;
- runs the SDK's session manager in stateless mode (every POST stands alone, so the space of a request is
  simply the one it names), started on the first request and stopped with the app.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from agent.server.auth import check_request
from agent.tools.execution import render_result, validate_arguments
from agent.tools.spec import FAILURE_KINDS, ToolCallContext

if TYPE_CHECKING:
    import mcp_types as mt
    from fastapi import FastAPI
    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

    from agent.server.services import Services

logger = logging.getLogger("agent.server.mcp")

SPACE_HEADER = "x-space-id"
SPACE_PATTERN = re.compile(r"^[A-Za-z0-9_.\-]{1,128}$")
_space: ContextVar[str] = ContextVar("mcp_space", default="default")


class _MemoryWriteTool:
    """`memory.write` as a tool (the operator method's shape), offered only when enabled."""

    name = "memory_write"
    description = (
        "Writes episodes (raw records; `key` makes a write idempotent) and facts into this space's memory."
    )
    side_effects = True

    def __init__(self, service: Any) -> None:
        from memory import MemoryWrite

        self._service = service
        self._model = MemoryWrite
        self.parameters = MemoryWrite.model_json_schema(by_alias=True)

    async def execute(self, arguments: dict[str, Any], ctx: ToolCallContext) -> Any:
        from pydantic import ValidationError

        try:
            write = self._model.model_validate(arguments)
        except ValidationError as exc:
            raise _Failure("invalid_call", str(exc.errors()[0]["msg"])) from None
        result = await self._service.write(ctx.space_id, write)
        return result.model_dump(mode="json", by_alias=True)


class _Failure(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class McpEndpoint:
    """An ASGI app for the `/mcp` route."""

    def __init__(self, services: Callable[[], Services]) -> None:
        self._services = services
        self._manager: StreamableHTTPSessionManager | None = None
        self._runner: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._stop = asyncio.Event()
        self._skills: list[Any] | None = None

    # --- tools -----------------------------------------------------------------------------------------
    async def _tools(self) -> dict[str, Any]:
        svc = self._services()
        tools: list[Any] = []
        service = await svc.memory.get() if svc.memory is not None else None
        if service is not None:
            from memory import build_memory_tools

            tools += build_memory_tools(service)
            if svc.settings.mcp_memory_write:
                tools.append(_MemoryWriteTool(service))
        if self._skills is None:
            from skills import build_skill_tools, prepare_run_skills

            run_skills = prepare_run_skills(svc.official_skills, None, user_messages=[])
            self._skills = list(build_skill_tools(run_skills))
        tools += self._skills
        return {t.name: t for t in tools}

    async def _list_tools(self, _ctx: Any, _params: Any) -> mt.ListToolsResult:
        import mcp_types as mt

        listed = []
        for tool in (await self._tools()).values():
            read_only = not getattr(tool, "side_effects", True)
            listed.append(
                mt.Tool(
                    name=tool.name,
                    description=getattr(tool, "description", ""),
                    input_schema=tool.parameters,
                    annotations=mt.ToolAnnotations(
                        read_only_hint=read_only, destructive_hint=False, idempotent_hint=read_only
                    ),
                )
            )
        return mt.ListToolsResult(tools=listed)

    async def _call_tool(self, _ctx: Any, params: mt.CallToolRequestParams) -> mt.CallToolResult:
        import mcp_types as mt

        def error(kind: str, message: str) -> mt.CallToolResult:
            body = {"error": {"kind": kind, "message": message}}
            return mt.CallToolResult(content=[mt.TextContent(text=json.dumps(body))], is_error=True)

        tool = (await self._tools()).get(params.name)
        if tool is None:
            return error("unknown_tool", f"there is no tool named {params.name!r} on this endpoint")
        arguments = dict(params.arguments or {})
        problem = validate_arguments(tool.parameters, arguments)
        if problem:
            return error("invalid_call", f"arguments do not match the schema: {problem}")
        space = _space.get()
        ctx = ToolCallContext(
            run_id="mcp", session_id=f"mcp:{space}", turn_id=0, tool_call_id="mcp", space_id=space
        )
        try:
            value = await tool.execute(arguments, ctx)
        except Exception as exc:
            kind = getattr(exc, "kind", None)
            if kind in FAILURE_KINDS:
                return error(str(kind), str(getattr(exc, "message", exc)))
            logger.exception("MCP tool %s failed", params.name)
            return error("internal", f"the tool failed unexpectedly ({type(exc).__name__})")
        structured = value if isinstance(value, dict) else None
        return mt.CallToolResult(
            content=[mt.TextContent(text=render_result(value))], structured_content=structured
        )

    # --- the session manager ---------------------------------------------------------------------------
    async def _ensure_running(self) -> StreamableHTTPSessionManager:
        if self._runner is None:
            from mcp.server.lowlevel import Server
            from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

            from agent import __version__

            server: Server[Any] = Server(
                "agent-container",
                version=__version__,
                instructions="This container's memory (search, graph, provenance, timeline) and skill catalog.",
                on_list_tools=self._list_tools,
                on_call_tool=self._call_tool,
            )
            self._manager = StreamableHTTPSessionManager(server, stateless=True, json_response=True)
            self._runner = asyncio.get_running_loop().create_task(
                self._run(self._manager), name="mcp-endpoint"
            )
        await self._ready.wait()
        assert self._manager is not None
        return self._manager

    async def _run(self, manager: StreamableHTTPSessionManager) -> None:
        async with manager.run():
            self._ready.set()
            await self._stop.wait()

    async def aclose(self) -> None:
        self._stop.set()
        if self._runner is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                async with asyncio.timeout(5):
                    await self._runner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        svc = self._services()
        refusal = check_request(request, svc.start_token, svc.settings.dev)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        space = request.headers.get(SPACE_HEADER) or request.query_params.get("space") or "default"
        if not SPACE_PATTERN.match(space):
            await JSONResponse({"error": "invalid space", "detail": "letters, digits, . _ - (≤ 128)"}, 400)(
                scope, receive, send
            )
            return
        manager = await self._ensure_running()
        token = _space.set(space)
        try:
            await manager.handle_request(scope, receive, send)
        finally:
            _space.reset(token)


def mount_mcp(app: FastAPI) -> Callable[[], Awaitable[None]]:
    """Adds the `/mcp` route; returns the close function for the app's lifespan."""
    from starlette.routing import Route

    endpoint = McpEndpoint(lambda: app.state.services)
    app.router.routes.append(Route("/mcp", endpoint=endpoint, methods=["GET", "POST", "DELETE"]))
    return endpoint.aclose
