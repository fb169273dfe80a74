"""The reference control plane: the embedded control plane served over HTTP JSON-RPC with bearer auth.

It is the peer the container is tested against and what `deploy/docker-compose.yml` runs beside it; its
`admin.*` methods let a user drive the container the way a real platform would (create runs, register remote
tools, inspect state). Run it with `python -m control_bridge.server` or `agent control-plane serve`.
"""

from __future__ import annotations

import argparse
import hmac
import json
import logging
import os
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from control_bridge import contract as c
from control_bridge.cli import DEFAULT_MAX_BODY_BYTES, add_arguments
from control_bridge.embedded import EmbeddedControlPlane
from control_bridge.errors import BridgeError, InvalidParams, Unauthorized
from control_bridge.jsonrpc import DispatchTable, MethodTable, error_response, handle_jsonrpc

if TYPE_CHECKING:
    from control_bridge.mcp.config import McpConfig

logger = logging.getLogger(__name__)


def method_table(control: EmbeddedControlPlane) -> MethodTable:
    """Every contract method and every admin method, each returning the camelCase wire form."""

    def contract_method(name: str) -> Any:
        async def method(params: Any) -> Any:
            return (await control.call(name, params)).wire()

        return method

    def admin_method(name: str) -> Any:
        async def method(params: Any) -> Any:
            return (await control.admin_call(name, params)).wire()

        return method

    table: dict[str, Any] = {name: contract_method(name) for name in c.METHODS}
    table.update({name: admin_method(name) for name in c.ADMIN_METHODS})
    return table


def _error(status: int, error: BridgeError, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        error_response(error.code, error.message, None, {"type": error.name}), status, headers
    )


def create_app(
    db_path: str | Path,
    token: str | None,
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    control: EmbeddedControlPlane | None = None,
    mcp_config: McpConfig | None = None,
) -> Starlette:
    """Builds the app. `token=None` disables auth (local development only); `control` overrides the store;
    `mcp_config` names MCP servers whose tools the plane offers (started with the app)."""
    plane = control or EmbeddedControlPlane(db_path, mcp_config=mcp_config)
    methods = DispatchTable(method_table(plane))
    expected = token.encode() if token else None

    def authorized(request: Request) -> bool:
        if expected is None:
            return True
        scheme, _, presented = request.headers.get("authorization", "").partition(" ")
        # compare_digest keeps the comparison time independent of how much of the token matched
        return scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), expected)

    async def rpc(request: Request) -> Response:
        if not authorized(request):
            return _error(401, Unauthorized("unauthorized"), {"WWW-Authenticate": "Bearer"})
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > max_body_bytes):
            return _error(413, InvalidParams("request body too large"))
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_body_bytes:
                return _error(413, InvalidParams("request body too large"))
            chunks.append(chunk)
        try:
            answer = await handle_jsonrpc(b"".join(chunks), methods)
        except RecursionError:  # JSON nested beyond what the parser can take
            answer = json.dumps(error_response(-32700, "Parse error"))
        except Exception:  # never a bare 500: the peer always gets a JSON-RPC error object
            logger.exception("JSON-RPC handling failed")
            answer = json.dumps(error_response(-32603, "Internal error"))
        if answer is None:
            return Response(status_code=204)
        return Response(answer, media_type="application/json")

    async def health(_request: Request) -> Response:
        body: dict[str, Any] = {"status": "ok", "service": "control-plane"}
        if plane.mcp is not None:
            body["mcp"] = plane.mcp.status()
        return JSONResponse(body)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        plane.start_mcp()
        try:
            yield
        finally:
            if control is None:
                await plane.aclose()

    app = Starlette(
        routes=[Route("/rpc", rpc, methods=["POST"]), Route("/health", health, methods=["GET"])],
        lifespan=lifespan,
    )
    app.state.control = plane
    return app


def serve(args: argparse.Namespace) -> int:
    """Runs the server until interrupted."""
    import uvicorn

    token = args.token if args.token is not None else os.environ.get("CONTROL_RPC_TOKEN") or None
    if token is None:
        logger.warning("control plane running WITHOUT authentication")
    mcp_path = getattr(args, "mcp_config", None) or os.environ.get("MCP_CONFIG") or None
    mcp_config = None
    if mcp_path:
        from control_bridge.mcp.config import McpConfigError, load_config

        try:
            mcp_config = load_config(mcp_path, os.environ)
        except McpConfigError as exc:
            raise SystemExit(f"control-plane: {exc}") from None
    app = create_app(args.db, token, max_body_bytes=args.max_body_bytes, mcp_config=mcp_config)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m control_bridge.server", description=__doc__)
    add_arguments(parser)
    return serve(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
