"""`memory.search` / `memory.write` for the container's JSON-RPC table (operator access to the substrate).

Params are the query or write models plus `spaceId` (camelCase on the wire); results are camelCase too.
Bad params raise pydantic.ValidationError, which the dispatcher turns into -32602.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from memory._models import MemoryWrite, SearchQuery
from memory._service import MemoryService


def _split(params: Any) -> tuple[str, dict[str, Any]]:
    if not isinstance(params, dict):
        raise ValueError("params must be an object")
    body = dict(params)
    space = body.pop("spaceId", None) or body.pop("space_id", None) or "default"
    if not isinstance(space, str):
        raise ValueError("spaceId must be a string")
    return space, body


def rpc_methods(service: MemoryService) -> dict[str, Callable[[Any], Awaitable[Any]]]:
    async def search(params: Any) -> dict[str, Any]:
        space, body = _split(params)
        result = await service.search(space, SearchQuery.model_validate(body))
        return result.model_dump(mode="json", by_alias=True)

    async def write(params: Any) -> dict[str, Any]:
        space, body = _split(params)
        result = await service.write(space, MemoryWrite.model_validate(body))
        return result.model_dump(mode="json", by_alias=True)

    return {"memory.search": search, "memory.write": write}
