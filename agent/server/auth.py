"""Bearer-token checks for /start, /rpc and the event stream (constant-time, never logged)."""

from __future__ import annotations

import hmac
import ipaddress
from urllib.parse import urlsplit

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


def _hostname(authority: str) -> str | None:
    """The host of a `Host` header value (`name`, `name:port`, `[v6]:port`); None when malformed."""
    try:
        return urlsplit(f"//{authority}").hostname
    except ValueError:
        return None


def _dev_refusal(request: Request) -> str | None:
    """Why a dev-mode request could have come from a web page rather than a local tool (None: it did not).

    Dev mode has no token, so the browser is the threat: a page may POST text/plain cross-origin without a
    preflight, and a DNS-rebinding page reaches 127.0.0.1 under its own name. So the Host must name loopback,
    and an Origin (or Sec-Fetch-Site), when the client sends one, must be loopback too. curl and SDKs send
    neither, and are unaffected."""
    client = request.client.host if request.client else None
    if client is not None and not is_loopback(client) and client != "testclient":
        return "dev mode serves loopback clients only"
    host = request.headers.get("host")
    if host is not None and not is_loopback(_hostname(host)) and host != "testserver":
        return "dev mode accepts only a loopback Host header (localhost, 127.0.0.1, [::1])"
    origin = request.headers.get("origin")
    if origin is not None:
        try:
            parts = urlsplit(origin)
            origin_host = parts.hostname if parts.scheme in ("http", "https") else None
        except ValueError:
            origin_host = None
        if not is_loopback(origin_host):
            return "dev mode refuses cross-origin requests (the Origin is not a loopback address)"
    if request.headers.get("sec-fetch-site", "").lower() == "cross-site":
        return "dev mode refuses cross-site requests"
    return None


def check_request(request: Request, token: str | None, dev: bool) -> JSONResponse | None:
    """None when the request may proceed, otherwise the 401/403 response to send."""
    if dev:
        if (reason := _dev_refusal(request)) is not None:
            return JSONResponse({"error": "forbidden", "detail": reason}, 403)
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
