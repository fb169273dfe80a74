"""JSON-RPC 2.0 client for the control plane over httpx: auth, timeouts, bounded retries, typed errors.

Every contract method is safe to retry by design (events de-duplicate on sequence, tools.execute on its
idempotency key, checkpoints on version, run.complete is final-once), so transient failures are retried with
the *same* request body. Lease loss, auth and validation errors are never retried: they surface at once as
distinct exceptions so the run loop can stop.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import random
from collections.abc import Mapping
from typing import Any, TypeVar

import httpx
from pydantic import ValidationError

from control_bridge import contract as c
from control_bridge._params import coerce_params
from control_bridge.errors import (
    BridgeError,
    Forbidden,
    InvalidParams,
    NotFound,
    ProtocolError,
    RateLimited,
    Unauthorized,
    Unavailable,
    error_from_object,
)
from control_bridge.forwarder import EventForwarder
from control_bridge.protocol import ControlPlaneBase
from control_bridge.retrying import RetryPolicy, Sleep

__all__ = ["DEFAULT_TIMEOUTS", "EventForwarder", "RetryPolicy", "RpcControlPlane"]

logger = logging.getLogger(__name__)
M = TypeVar("M", bound=c.WireModel)

DEFAULT_TIMEOUT_S = 10.0
DEFAULT_TIMEOUTS: Mapping[str, float] = {"tools.execute": 300.0, "run.events.append": 30.0}
"""Per-method timeouts in seconds: tool execution may take minutes, everything else is bookkeeping."""


class RpcControlPlane(ControlPlaneBase):
    """The contract over HTTP JSON-RPC.

    Args:
        url: the control plane's JSON-RPC endpoint (e.g. ``http://cp:8081/rpc``).
        token: bearer token sent on every call.
        http_client: a shared client (not closed here); one is created (and closed by `aclose`) if absent.
        retry: attempts and backoff; `RetryPolicy(max_attempts=1)` disables retries.
        timeouts: per-method timeouts in seconds over `DEFAULT_TIMEOUTS`.
        sleep: the backoff sleep (tests pass a fake to stay fast).
    """

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        http_client: httpx.AsyncClient | None = None,
        retry: RetryPolicy | None = None,
        timeouts: Mapping[str, float] | None = None,
        default_timeout_s: float = DEFAULT_TIMEOUT_S,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.url = url
        self._token = token
        self._client = http_client or httpx.AsyncClient()
        self._owns_client = http_client is None
        self.retry = retry or RetryPolicy()
        self._timeouts = {**DEFAULT_TIMEOUTS, **(timeouts or {})}
        self._default_timeout = default_timeout_s
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._ids = itertools.count(1)
        self._auth_reported = False
        self.attempts = 0
        """Total HTTP attempts made (observability and tests: proves retries are bounded)."""

    def __repr__(self) -> str:  # never show the token
        return f"RpcControlPlane(url={self.url!r})"

    async def call(self, method: str, params: c.WireModel | Mapping[str, Any] | None) -> c.WireModel:
        spec = c.METHODS.get(method) or c.ADMIN_METHODS.get(method)
        if spec is None:
            raise NotFound(f"unknown method {method!r}")
        params_type, result_type = spec
        p = coerce_params(params_type, params)
        return await self.request(method, p.wire(), result_type, run_id=getattr(p, "run_id", None))

    async def request(
        self, method: str, params: dict[str, Any], result_type: type[M], *, run_id: str | None
    ) -> M:
        """Sends one JSON-RPC call (retrying transient failures); validates the result into `result_type`."""
        request_id = next(self._ids)
        body = json.dumps({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        if run_id:
            headers["X-Run-Id"] = run_id
        if method == "tools.execute":
            headers["Idempotency-Key"] = str(params.get("idempotencyKey", ""))
        timeout = self._timeouts.get(method, self._default_timeout)
        attempt = 0
        while True:
            attempt += 1
            self.attempts += 1
            try:
                response = await self._client.post(self.url, content=body, headers=headers, timeout=timeout)
                return self._parse(response, request_id, result_type)
            except httpx.TransportError as exc:  # connect/read/write errors and timeouts
                error: BridgeError = Unavailable(f"{method}: {type(exc).__name__}")
                cause: BaseException = exc
            except BridgeError as exc:
                error, cause = exc, exc
            if isinstance(error, Unauthorized | Forbidden) and not self._auth_reported:
                self._auth_reported = True
                logger.error("control plane refused our credentials (%s) for %s", error.name, self.url)
            retry_after = error.retry_after if isinstance(error, RateLimited) else None
            delay = self.retry.delay(attempt, self._rng, retry_after) if error.retryable else None
            if delay is None:
                if error is cause:
                    raise error
                raise error from cause
            logger.debug("retrying %s after %s (attempt %d, %.3fs)", method, error.name, attempt, delay)
            await self._sleep(delay)

    def _parse(self, response: httpx.Response, request_id: int, result_type: type[M]) -> M:
        status = response.status_code
        payload = _json_or_none(response)
        error_obj = payload.get("error") if isinstance(payload, dict) else None
        if status == 401:
            raise Unauthorized(_message(error_obj, "unauthorized"))
        if status == 403:
            raise Forbidden(_message(error_obj, "forbidden"))
        if status == 429:
            raise RateLimited("rate limited", retry_after=_retry_after(response))
        if status == 408 or status >= 500:
            raise Unavailable(f"HTTP {status}")
        if status == 413:
            raise InvalidParams("request body too large")
        if status != 200 and not isinstance(error_obj, dict):
            raise (NotFound if status == 404 else BridgeError)(f"HTTP {status} from control plane")
        if not isinstance(payload, dict) or payload.get("jsonrpc") != "2.0":
            raise ProtocolError("response is not a JSON-RPC 2.0 object")
        if isinstance(error_obj, dict):
            if payload.get("id") not in (request_id, None):
                raise ProtocolError("response id does not match the request")
            raise error_from_object(error_obj)
        if payload.get("id") != request_id:
            raise ProtocolError("response id does not match the request")
        if "result" not in payload:
            raise ProtocolError("response has neither result nor error")
        try:
            return result_type.model_validate(payload["result"])
        except ValidationError as exc:
            raise ProtocolError(f"malformed {result_type.__name__}: {exc.error_count()} error(s)") from None

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None


def _message(error_obj: Any, default: str) -> str:
    message = error_obj.get("message") if isinstance(error_obj, dict) else None
    return message[:500] if isinstance(message, str) else default


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
