"""Spec-exact JSON-RPC 2.0 dispatch on top of jsonrpcserver's `async_dispatch`.

jsonrpcserver validates and routes single requests well, but it answers a batch with invalid members as one
error and puts exception text in responses. So batches are split here (each member dispatched on its own,
per §6 of the specification), every method is wrapped so an unexpected exception becomes a bare -32603, and
pydantic validation errors become -32602 with the offending fields (never the values).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from jsonrpcserver import Error, Success, async_dispatch
from pydantic import ValidationError

from control_bridge.errors import BridgeError
from control_bridge.json_limits import JsonTooDeep, loads_bounded

logger = logging.getLogger(__name__)

MethodTable = Mapping[str, Callable[[Any], Awaitable[Any]]]

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
MAX_BATCH = 1000


def error_response(code: int, message: str, id_: Any = None, data: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "error": error, "id": id_}


def validation_error_data(exc: ValidationError) -> dict[str, Any]:
    """Field locations and messages only: input values may be secrets or huge."""
    return {
        "type": "invalid",
        "errors": [
            {"loc": ".".join(str(p) for p in err["loc"]), "msg": err["msg"]} for err in exc.errors()[:20]
        ],
    }


def _wrap(name: str, fn: Callable[[Any], Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    async def method(*args: Any, **kwargs: Any) -> Any:
        params: Any = list(args) if args else (kwargs or None)
        try:
            return Success(await fn(params))
        except BridgeError as exc:
            err = exc.to_error()
            return Error(err["code"], err["message"], err.get("data"))
        except ValidationError as exc:
            return Error(INVALID_PARAMS, "Invalid params", validation_error_data(exc))
        except Exception:
            logger.exception("JSON-RPC method %s failed", name)
            return Error(INTERNAL_ERROR, "Internal error")

    return method


async def _dispatch_one(member: Any, methods: Mapping[str, Any]) -> dict[str, Any] | None:
    if not isinstance(member, dict):
        return error_response(INVALID_REQUEST, "Invalid Request")
    text = await async_dispatch(json.dumps(member), methods=methods)
    if not text:
        return None
    response: dict[str, Any] = json.loads(text)
    error = response.get("error")
    if isinstance(error, dict) and error.get("code") == INVALID_REQUEST:
        response["error"] = {"code": INVALID_REQUEST, "message": "Invalid Request"}
        request_id = member.get("id")
        if isinstance(request_id, str | int | float) and not isinstance(request_id, bool):
            response["id"] = request_id  # the id was readable: answer to it (spec §5)
    return response


class DispatchTable(dict[str, Callable[..., Awaitable[Any]]]):
    """A method table wrapped for dispatch, built once when the server starts (not per request)."""

    def __init__(self, methods: MethodTable) -> None:
        super().__init__({name: _wrap(name, fn) for name, fn in methods.items()})


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


async def handle_jsonrpc(body: bytes | str, methods: MethodTable) -> str | None:
    """Answers one JSON-RPC 2.0 payload; None means there is nothing to send back (notifications only).

    NaN and Infinity are not JSON (RFC 8259): a payload with them is a parse error, never echoed back."""
    try:
        payload = loads_bounded(body, parse_constant=_no_constants)
    except JsonTooDeep as exc:  # a depth-bounded parser refuses it (no request of ours nests like this)
        return json.dumps(error_response(PARSE_ERROR, "Parse error", data={"maxDepth": exc.limit}))
    except (ValueError, UnicodeDecodeError):
        return json.dumps(error_response(PARSE_ERROR, "Parse error"))
    wrapped = methods if isinstance(methods, DispatchTable) else DispatchTable(methods)
    if isinstance(payload, list):
        if not payload:
            return json.dumps(error_response(INVALID_REQUEST, "Invalid Request"))
        if len(payload) > MAX_BATCH:
            return json.dumps(
                error_response(INVALID_REQUEST, "Invalid Request", data={"maxBatch": MAX_BATCH})
            )
        responses = [r for m in payload if (r := await _dispatch_one(m, wrapped)) is not None]
        return json.dumps(responses) if responses else None
    response = await _dispatch_one(payload, wrapped)
    return json.dumps(response) if response is not None else None
