"""Model errors: one tree, classified once at the provider edge so wrappers decide on `kind` alone.

    ModelError                      kind              retryable
    ├── ModelAuthError              auth              no   (401/403: wrong or missing key)
    ├── ModelInvalidRequest         invalid_request   no   (400/404/413/422: our request was wrong)
    │   ├── ContextLengthExceeded   context_length    no   (the prompt does not fit the model)
    │   └── TranscriptError         invalid_request   no   (caught before sending: names run and model)
    ├── ModelRateLimited            rate_limited      yes  (429; `retry_after` from Retry-After)
    ├── ModelUnavailable            unavailable       yes  (5xx, 529 overloaded, network errors, timeouts,
    │                                                       streams cut in the middle)
    └── UnknownModelError           unknown           no   (anything else: surfaced, never guessed at)

`ModelConfigError` (a bad MODEL value, a missing key) is a developer mistake, not a runtime failure, and sits
outside the tree. Messages never contain API keys: they are built from status, provider error text and ids.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import httpx

ErrorKind = Literal["auth", "invalid_request", "rate_limited", "unavailable", "context_length", "unknown"]


class ModelConfigError(ValueError):
    """The model configuration is wrong (bad spec, missing key); the message says what to set."""


class ModelError(Exception):
    kind: ClassVar[ErrorKind] = "unknown"
    default_retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        model: str = "",
        status: int | None = None,
        request_id: str | None = None,
        retryable: bool | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.model = model
        self.status = status
        self.request_id = request_id
        self.retryable = self.default_retryable if retryable is None else retryable
        self.retry_after = retry_after

    def __str__(self) -> str:
        where = ":".join(p for p in (self.provider, self.model) if p)
        bits = [f"{self.kind}"]
        if self.status is not None:
            bits.append(f"HTTP {self.status}")
        if self.request_id:
            bits.append(f"request {self.request_id}")
        prefix = f"{where} " if where else ""
        return f"{prefix}[{', '.join(bits)}] {self.message}"

    def to_dict(self) -> dict[str, Any]:
        """For `run.failed` and logs: safe to show (no keys, no request bodies)."""
        return {
            "kind": self.kind,
            "message": str(self),
            "provider": self.provider,
            "status": self.status,
            "requestId": self.request_id,
            "retryable": self.retryable,
        }


class ModelAuthError(ModelError):
    kind: ClassVar[ErrorKind] = "auth"


class ModelInvalidRequest(ModelError):
    kind: ClassVar[ErrorKind] = "invalid_request"


class ContextLengthExceeded(ModelInvalidRequest):
    kind: ClassVar[ErrorKind] = "context_length"


class TranscriptError(ModelInvalidRequest):
    """The transcript breaks a provider rule; raised before any byte is sent."""

    def __init__(
        self, message: str, *, problems: list[str] | None = None, run_id: str | None = None, **kw: Any
    ):
        super().__init__(message, **kw)
        self.problems = problems or []
        self.run_id = run_id


class ModelRateLimited(ModelError):
    kind: ClassVar[ErrorKind] = "rate_limited"
    default_retryable = True


class ModelUnavailable(ModelError):
    kind: ClassVar[ErrorKind] = "unavailable"
    default_retryable = True


class UnknownModelError(ModelError):
    kind: ClassVar[ErrorKind] = "unknown"


_CONTEXT_MARKERS = (
    "context_length_exceeded",
    "context length",
    "maximum context",
    "prompt is too long",
    "too many tokens",
    "context window",
)


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds to wait from `retry-after-ms`, `retry-after` (seconds or HTTP date); None if absent or bad."""
    lowered = {k.lower(): v for k, v in headers.items()}
    if ms := lowered.get("retry-after-ms"):
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _request_id(headers: Mapping[str, str]) -> str | None:
    lowered = {k.lower(): v for k, v in headers.items()}
    return lowered.get("x-request-id") or lowered.get("request-id")


def _error_text(body: Any) -> tuple[str, str]:
    """(provider error type/code, message) from an OpenAI- or Anthropic-shaped error body."""
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            etype = str(err.get("code") or err.get("type") or "")
            return etype, str(err.get("message") or etype or "")
        if isinstance(err, str):
            return "", err
    return "", str(body)[:500] if body else ""


def classify_status(
    status: int,
    body: Any,
    headers: Mapping[str, str],
    *,
    provider: str,
    model: str = "",
) -> ModelError:
    """Maps an HTTP error answer (or an in-stream error event) to one leaf of the tree."""
    etype, text = _error_text(body)
    message = text or f"HTTP {status}"
    kw: dict[str, Any] = {
        "provider": provider,
        "model": model,
        "status": status or None,
        "request_id": _request_id(headers),
    }
    lowered = f"{etype} {text}".lower()
    if any(marker in lowered for marker in _CONTEXT_MARKERS):
        return ContextLengthExceeded(message, **kw)
    if status in (401, 403) or etype in ("authentication_error", "permission_error", "invalid_api_key"):
        return ModelAuthError(message, **kw)
    if status == 429 or etype in ("rate_limit_error", "rate_limit_exceeded"):
        # OpenAI answers an exhausted quota with 429 too; waiting will not help.
        retryable = "insufficient_quota" not in lowered
        return ModelRateLimited(message, retryable=retryable, retry_after=parse_retry_after(headers), **kw)
    if (
        status in (408, 409, 529)
        or status >= 500
        or etype in ("overloaded_error", "api_error", "server_error")
    ):
        return ModelUnavailable(message, retry_after=parse_retry_after(headers), **kw)
    if status in (400, 404, 405, 413, 415, 422) or etype in (
        "invalid_request_error",
        "not_found_error",
        "request_too_large",
    ):
        return ModelInvalidRequest(message, **kw)
    return UnknownModelError(message, **kw)


def classify_transport(exc: httpx.HTTPError, *, provider: str, model: str = "") -> ModelError:
    """Network failures and timeouts are `unavailable`: the request may well succeed if sent again."""
    what = "timed out" if isinstance(exc, httpx.TimeoutException) else "network error"
    return ModelUnavailable(f"{what}: {type(exc).__name__}: {exc}", provider=provider, model=model)
