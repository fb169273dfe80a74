"""Bridge errors: one tree, one table of JSON-RPC application codes.

BridgeError
├── Unauthorized        -32001  never retried
├── Forbidden           -32003  never retried
├── NotFound            -32004
├── Conflict            -32009
├── LeaseLost           -32010  another worker owns the run: stop at once, never retried
├── RateLimited         -32029  retried after retry_after
├── Unavailable         -32050  retried (network errors, 5xx, timeouts map here too)
├── InvalidParams       -32602  the standard JSON-RPC code: the request was wrong
└── ProtocolError       -32700  a malformed or mismatched response from the peer
"""

from __future__ import annotations

from typing import Any, ClassVar


class BridgeError(Exception):
    code: ClassVar[int] = -32000
    name: ClassVar[str] = "error"
    retryable: ClassVar[bool] = False

    def __init__(self, message: str = "", *, data: Any = None) -> None:
        super().__init__(message or self.name)
        self.message = message or self.name
        self.data = data

    def to_error(self) -> dict[str, Any]:
        """The JSON-RPC error object for this exception."""
        err: dict[str, Any] = {"code": self.code, "message": self.message}
        data = {"type": self.name} if self.data is None else {"type": self.name, **_as_dict(self.data)}
        err["data"] = data
        return err


def _as_dict(data: Any) -> dict[str, Any]:
    return data if isinstance(data, dict) else {"detail": data}


class Unauthorized(BridgeError):
    code = -32001
    name = "unauthorized"


class Forbidden(BridgeError):
    code = -32003
    name = "forbidden"


class NotFound(BridgeError, LookupError):
    """Also a LookupError, so one class serves a store lookup (memory's ids) and the wire's -32004."""

    code = -32004
    name = "not_found"


class Conflict(BridgeError):
    code = -32009
    name = "conflict"


class LeaseLost(BridgeError):
    code = -32010
    name = "lease_lost"


class RateLimited(BridgeError):
    code = -32029
    name = "rate_limited"
    retryable = True

    def __init__(self, message: str = "", *, retry_after: float | None = None, data: Any = None) -> None:
        super().__init__(message, data=data)
        self.retry_after = retry_after

    def to_error(self) -> dict[str, Any]:
        err = super().to_error()
        if self.retry_after is not None:
            err["data"]["retryAfterMs"] = round(self.retry_after * 1000)
        return err


class Unavailable(BridgeError):
    code = -32050
    name = "unavailable"
    retryable = True


class InvalidParams(BridgeError):
    code = -32602
    name = "invalid"


class ProtocolError(BridgeError):
    code = -32700
    name = "protocol_error"
    retryable = True


ERRORS_BY_CODE: dict[int, type[BridgeError]] = {
    cls.code: cls
    for cls in (
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
        LeaseLost,
        RateLimited,
        Unavailable,
        InvalidParams,
        ProtocolError,
    )
}


def error_from_object(error: dict[str, Any]) -> BridgeError:
    """Turns a JSON-RPC error object from the peer into the matching exception."""
    code = error.get("code")
    message = str(error.get("message", ""))
    data = error.get("data")
    cls = ERRORS_BY_CODE.get(code) if isinstance(code, int) else None
    if cls is None:
        cls = Unavailable if isinstance(code, int) and -32099 <= code <= -32000 else BridgeError
    if cls is RateLimited:
        after_ms = data.get("retryAfterMs") if isinstance(data, dict) else None
        retry_after = after_ms / 1000 if isinstance(after_ms, int | float) and after_ms >= 0 else None
        return RateLimited(message, retry_after=retry_after, data=data)
    return cls(message, data=data)
