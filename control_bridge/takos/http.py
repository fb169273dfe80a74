"""POST `{base}/api/internal/v1/agent-control/<endpoint>`: headers, timeouts and Takos's retry rule.

Only `complete-run` and the two checkpoint calls are retried (3 attempts, the same body, 100 ms·2ⁿ⁻¹ plus up
to 50 % jitter) on network errors, 408, 429, 5xx or an undecodable 2xx; never on 409/404 or anything else.
Every other endpoint fails on its first non-2xx answer, as Takos's container does.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx

from control_bridge.errors import BridgeError, ProtocolError, Unavailable
from control_bridge.takos.errors import error_for_status
from control_bridge.takos.wire import Identity

logger = logging.getLogger(__name__)

PATH_PREFIX = "/api/internal/v1/agent-control/"
USER_AGENT = "agent-container/0.1 (takos-agent-compatible)"
DEFAULT_TIMEOUT_S = 30.0
TIMEOUTS_S: Mapping[str, float] = {
    "tool-execute": 305.0,
    "complete-run": 120.0,
    "engine-checkpoint-save": 120.0,
}
CONNECT_TIMEOUT_S = 10.0
RETRIED: frozenset[str] = frozenset({"complete-run", "engine-checkpoint-save", "engine-checkpoint-load"})
MAX_ATTEMPTS = 3
BASE_DELAY_S = 0.1


class TakosHttp:
    """One run's authenticated channel to the Worker (the token is per run and lease)."""

    def __init__(
        self,
        identity: Identity,
        *,
        http_client: httpx.AsyncClient | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.identity = identity
        self._client = http_client or httpx.AsyncClient()
        self._owns_client = http_client is None
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.attempts = 0
        """HTTP attempts made (tests: proves retries are bounded)."""

    def __repr__(self) -> str:  # never the token
        return f"TakosHttp(base={self.identity.base_url!r}, runId={self.identity.run_id!r})"

    def headers(self) -> dict[str, str]:
        ident = self.identity
        headers = {
            "Authorization": f"Bearer {ident.token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "X-Takos-Run-Id": ident.run_id,
            "User-Agent": USER_AGENT,
        }
        if ident.executor_tier is not None:
            headers["X-Takos-Executor-Tier"] = str(ident.executor_tier)
        if ident.executor_container_id:
            headers["X-Takos-Executor-Container-Id"] = ident.executor_container_id
        return headers

    async def post(self, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        """Sends one call (retrying where Takos retries); returns the decoded JSON object."""
        url = self.identity.base_url + PATH_PREFIX + endpoint
        content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        read = TIMEOUTS_S.get(endpoint, DEFAULT_TIMEOUT_S)
        timeout = httpx.Timeout(read, connect=CONNECT_TIMEOUT_S)
        attempts = MAX_ATTEMPTS if endpoint in RETRIED else 1
        attempt = 0
        while True:
            attempt += 1
            self.attempts += 1
            try:
                response = await self._client.post(
                    url, content=content, headers=self.headers(), timeout=timeout
                )
                return self._parse(endpoint, response)
            except httpx.TransportError as exc:
                error: BridgeError = Unavailable(f"{endpoint}: {type(exc).__name__}")
            except BridgeError as exc:
                error = exc
            if not error.retryable or attempt >= attempts:
                raise error
            cap = BASE_DELAY_S * 2 ** (attempt - 1)
            delay = cap + self._rng.uniform(0, cap / 2)
            logger.info("retrying %s after %s (attempt %d, %.3fs)", endpoint, error.name, attempt, delay)
            await self._sleep(delay)

    def _parse(self, endpoint: str, response: httpx.Response) -> dict[str, Any]:
        try:
            payload: Any = response.json()
        except (ValueError, UnicodeDecodeError, RecursionError):
            payload = None
        if not 200 <= response.status_code < 300:
            raise error_for_status(endpoint, response.status_code, payload, _retry_after(response))
        if not isinstance(payload, dict):
            raise ProtocolError(f"{endpoint}: the answer is not a JSON object")
        return payload

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
