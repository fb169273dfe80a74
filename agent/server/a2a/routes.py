"""HTTP routes: the public agent card and POST /a2a (bearer like /rpc; JSON-RPC through the SDK's dispatcher)."""

from __future__ import annotations

import hashlib
import json
import time
from email.utils import formatdate
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.types import Message as AsgiMessage

from a2a.server.context import ServerCallContext
from a2a.server.request_handlers.response_helpers import build_error_response
from a2a.server.routes.common import DefaultServerCallContextBuilder
from a2a.server.routes.jsonrpc_dispatcher import JsonRpcDispatcher
from a2a.utils.errors import ContentTypeNotSupportedError
from agent.server.a2a.card import build_card, card_json
from agent.server.a2a.handler import RunLogRequestHandler
from agent.server.a2a.index import A2AIndex
from agent.server.auth import check_request

if TYPE_CHECKING:
    from agent.server.services import Services

MAX_BODY = 4 * 1024 * 1024
JSON_TYPES = ("application/json", "application/a2a+json")
CARD_PATH = "/.well-known/agent-card.json"


class _ContextBuilder(DefaultServerCallContextBuilder):
    """Adds the caller (a digest of the bearer token; never the token) so tasks are listed per caller."""

    def build(self, request: Request) -> ServerCallContext:
        context = super().build(request)
        context.state.pop("auth", None)
        header = request.headers.get("authorization", "")
        token = header.partition(" ")[2].strip()
        context.state["owner"] = hashlib.sha256(token.encode()).hexdigest()[:32] if token else "anonymous"
        context.state["headers"] = {k: v for k, v in request.headers.items() if k != "authorization"}
        return context


class A2ASurface:
    """Built in the app's lifespan, once the services exist; closed with them."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.index = A2AIndex(Path(services.settings.data_dir) / "a2a.db")
        self.handler = RunLogRequestHandler(
            services, self.index, tag_message_ids=services.settings.model == "a2a-conformance"
        )
        self.dispatcher = JsonRpcDispatcher(
            self.handler, context_builder=_ContextBuilder(), enable_v0_3_compat=True
        )
        self.started = time.time()

    def close(self) -> None:
        self.index.close()


def _surface(request: Request) -> A2ASurface:
    surface = getattr(request.app.state, "a2a", None)
    if surface is None:
        services = request.app.state.services
        surface = request.app.state.a2a = A2ASurface(services)
    return surface


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def add_a2a_routes(app: FastAPI) -> None:
    @app.get(CARD_PATH)
    async def get_agent_card(request: Request) -> Response:
        surface = _surface(request)
        body = card_json(build_card(surface.services, _base_url(request)))
        encoded = json.dumps(body, sort_keys=True).encode()
        etag = f'W/"{hashlib.sha256(encoded).hexdigest()[:32]}"'
        headers = {
            "Cache-Control": "public, max-age=300",
            "ETag": etag,
            "Last-Modified": formatdate(surface.started, usegmt=True),
        }
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        return JSONResponse(body, headers=headers)

    async def post_a2a(request: Request) -> Response:
        services = request.app.state.services
        if (refusal := check_request(request, services.start_token, services.settings.dev)) is not None:
            return refusal
        content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if content_type not in JSON_TYPES:
            error = ContentTypeNotSupportedError(
                message=f"Content-Type {content_type or '(none)'!r} is not supported: send application/json"
            )
            return JSONResponse(build_error_response(None, error))
        body = await _read_limited(request)
        if body is None:
            return JSONResponse({"error": "payload too large", "limit": MAX_BODY}, 413)
        return await _surface(request).dispatcher.handle_requests(_replay(request, body))

    app.add_api_route("/a2a", post_a2a, methods=["POST"], include_in_schema=False)
    app.add_api_route("/a2a/", post_a2a, methods=["POST"], include_in_schema=False)


async def _read_limited(request: Request) -> bytes | None:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            return None
    return bytes(body)


def _replay(request: Request, body: bytes) -> Request:
    """A request whose body is `body` (already read, within the limit) for the SDK's dispatcher."""
    sent = False

    async def receive() -> AsgiMessage:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await request.receive()

    replay = Request(request.scope, receive)
    return replay


def close_a2a(app: Any) -> None:
    surface = getattr(app.state, "a2a", None)
    if surface is not None:
        surface.close()
        app.state.a2a = None
