"""The FastAPI application: /health, /start, /rpc, /runs/{runId}/events, /metrics, and A2A (/a2a, the card)."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from agent.events.types import profile_types
from agent.models.errors import ModelConfigError
from agent.runtime.requests import RunError, StartRequest
from agent.server.a2a import add_a2a_routes, close_a2a
from agent.server.auth import check_request
from agent.server.mcp_endpoint import mount_mcp
from agent.server.rpc_methods import build_methods, health
from agent.server.services import Services
from agent.server.sse import event_stream
from agent.settings import Settings
from control_bridge.errors import BridgeError
from control_bridge.json_limits import JsonTooDeep, loads_bounded
from control_bridge.jsonrpc import DispatchTable, handle_jsonrpc

logger = logging.getLogger("agent.server")

MAX_START_BODY = 64 * 1024
MAX_RPC_BODY = 4 * 1024 * 1024
MAX_SEQUENCE = 2**63 - 1


async def _read_body(request: Request, limit: int, timeout_s: float) -> bytes | JSONResponse:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        return JSONResponse({"error": "payload too large", "limit": limit}, 413)
    body = bytearray()
    try:
        async with asyncio.timeout(timeout_s):  # the whole body, so a trickle cannot hold the connection
            async for chunk in request.stream():
                body += chunk
                if len(body) > limit:
                    return JSONResponse({"error": "payload too large", "limit": limit}, 413)
    except TimeoutError:
        return JSONResponse(
            {"error": "request timeout", "detail": f"the body did not arrive within {timeout_s:g} s"},
            408,
            headers={"Connection": "close"},
        )
    return bytes(body)


def create_app(settings: Settings, services: Services | None = None) -> FastAPI:
    """Builds the app. Pass `services` to share a registry with the caller (tests, `agent run`)."""
    owned = services is None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc = services or Services.build(settings)
        if owned and settings.effective_start_token is None and svc.start_token is not None:
            # Printed once, so `docker run` is secure by default and still usable.
            print(
                f"START_TOKEN was not set; this server accepts the bearer token: {svc.start_token}",
                file=sys.stderr,
                flush=True,
            )
        if settings.dev:
            logger.warning(
                "DEV MODE: no authentication, serving 127.0.0.1 only. Never use --dev in production."
            )
        if svc.is_language_model:
            logger.info("model: %s", svc.model_name)
        elif svc.model_name.startswith("scripted"):
            logger.info(
                "model: %s (a scripted model: it replays its script; not a language model)", svc.model_name
            )
        elif svc.model_name == "a2a-conformance":
            logger.warning("model: a2a-conformance (deterministic A2A TCK scenarios; not a language model)")
        else:
            logger.warning(
                "model: %s (no language model is configured: runs answer with the built-in local runner; "
                "set MODEL to use one)",
                svc.model_name,
            )
        app.state.services = svc
        app.state.methods = DispatchTable(build_methods(svc))
        await svc.start()
        try:
            yield
        finally:
            await close_mcp()
            close_a2a(app)
            if owned:
                await svc.aclose()

    app = FastAPI(title="agent-container", lifespan=lifespan, docs_url=None, redoc_url=None)
    close_mcp = mount_mcp(app)  # /mcp: the local memory and skill tools over MCP

    def svc_of(request: Request) -> Services:
        return request.app.state.services  # type: ignore[no-any-return]

    def denied(request: Request) -> JSONResponse | None:
        svc = svc_of(request)
        return check_request(request, svc.start_token, svc.settings.dev)

    @app.get("/health")
    async def get_health(request: Request) -> dict[str, Any]:
        return health(svc_of(request))

    @app.post("/start")
    async def post_start(request: Request) -> Response:
        takos = svc_of(request).takos
        if takos is not None and svc_of(request).start_token is None and not svc_of(request).settings.dev:
            return JSONResponse({"error": "start auth token is not configured"}, 503)
        if (refusal := denied(request)) is not None:
            return refusal
        body = await _read_body(request, MAX_START_BODY, svc_of(request).settings.http_body_timeout_s)
        if isinstance(body, JSONResponse):
            return body
        try:
            payload = loads_bounded(body)
        except JsonTooDeep as exc:
            return JSONResponse({"error": "invalid body", "detail": f"{exc}: nest less deeply"}, 400)
        except (ValueError, UnicodeDecodeError):
            return JSONResponse({"error": "invalid JSON", "detail": "the body must be a JSON object"}, 400)
        if not isinstance(payload, dict):
            return JSONResponse({"error": "invalid body", "detail": "the body must be a JSON object"}, 400)
        try:
            start = StartRequest.model_validate(payload)
        except ValidationError as exc:
            errors = [{"loc": ".".join(map(str, e["loc"])), "msg": e["msg"]} for e in exc.errors()[:20]]
            return JSONResponse({"error": "invalid body", "detail": errors}, 400)
        try:
            if takos is not None:
                start = takos.prepare(start)
            try:
                svc_of(request).models.check(start.model)
            except ModelConfigError as exc:
                return JSONResponse({"error": "invalid model", "detail": str(exc)}, 400)
            storage = svc_of(request).db.storage.health()
            if not storage.ok:  # a run started now could not write its first event
                return JSONResponse(
                    {"error": "storage unavailable", "detail": storage.reason, "storage": storage.wire()},
                    503,
                    headers={"Retry-After": "30"},
                )
            result = await svc_of(request).manager.start(start)
        except BridgeError as exc:  # the control plane refused (e.g. a runId it already has)
            status = {
                "conflict": 409,
                "not_found": 404,
                "unavailable": 503,
                "rate_limited": 429,
                "lease_lost": 409,
                "unauthorized": 502,
                "forbidden": 502,
            }.get(exc.name, 400)
            return JSONResponse(
                {"error": f"the control plane refused the run ({exc.name})", "detail": exc.message}, status
            )
        except RunError as exc:
            if exc.code == "capacity":
                return JSONResponse({"error": exc.message, **exc.data}, 503, headers={"Retry-After": "5"})
            status = {"not_found": 404, "conflict": 409}.get(exc.code, 400)
            return JSONResponse({"error": exc.message, **exc.data}, status)
        if takos is not None:
            return JSONResponse(takos.answer(result, start), 202)
        return JSONResponse(result.model_dump(by_alias=True, exclude_none=True), 202)

    @app.post("/rpc")
    async def post_rpc(request: Request) -> Response:
        if (refusal := denied(request)) is not None:
            return refusal
        body = await _read_body(request, MAX_RPC_BODY, svc_of(request).settings.http_body_timeout_s)
        if isinstance(body, JSONResponse):
            return body
        answer = await handle_jsonrpc(body, request.app.state.methods)
        if answer is None:
            return Response(status_code=204)
        return Response(answer, media_type="application/json")

    @app.get("/runs/{run_id}/events")
    async def get_events(
        request: Request, run_id: str, profile: str = "chat", after: int = Query(0, ge=0, le=MAX_SEQUENCE)
    ) -> Response:
        if (refusal := denied(request)) is not None:
            return refusal
        svc = svc_of(request)
        try:
            types = profile_types(profile)
        except ValueError as exc:
            return JSONResponse({"error": "invalid profile", "detail": str(exc)}, 400)
        try:
            svc.manager.get(run_id)
        except RunError:
            return JSONResponse({"error": "not found", "detail": f"no run {run_id!r} in this container"}, 404)
        last_id = request.headers.get("last-event-id", "")
        if last_id:
            if not last_id.strip().isdigit() or int(last_id) > MAX_SEQUENCE:
                return JSONResponse(
                    {"error": "invalid Last-Event-ID", "detail": "must be a sequence number"}, 400
                )
            after = int(last_id)
        return event_stream(svc.log, run_id, max(0, after), types)

    @app.get("/metrics")
    async def get_metrics(request: Request) -> Response:
        body, content_type = svc_of(request).metrics.render()
        return Response(body, media_type=content_type)

    add_a2a_routes(app)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error on %s", request.url.path)
        return JSONResponse({"error": "internal error"}, 500)

    return app
