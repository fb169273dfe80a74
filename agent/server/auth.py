"""Bearer-token checks for /start, /rpc and the event stream (constant-time, never logged)."""

from __future__ import annotations

import hmac
import ipaddress

from fastapi import Request
from fastapi.responses import JSONResponse


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_request(request: Request, token: str | None, dev: bool) -> JSONResponse | None:
    """None when the request may proceed, otherwise the 401/403 response to send."""
    if dev:
        client = request.client.host if request.client else None
        if client is not None and not is_loopback(client) and client != "testclient":
            return JSONResponse(
                {"error": "forbidden", "detail": "dev mode serves loopback clients only"}, 403
            )
        return None
    header = request.headers.get("authorization", "")
    scheme, _, supplied = header.partition(" ")
    if token is None or scheme.lower() != "bearer" or not supplied:
        return _unauthorized("missing bearer token: send 'Authorization: Bearer <START_TOKEN>'")
    if not hmac.compare_digest(supplied.strip().encode(), token.encode()):
        return _unauthorized("wrong token")
    return None


def _unauthorized(detail: str) -> JSONResponse:
    return JSONResponse(
        {"error": "unauthorized", "detail": detail}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
    )
