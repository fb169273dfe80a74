"""Operator JSON-RPC methods: `skills.catalog`, `memory.search`, `memory.write`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from control_bridge.errors import InvalidParams, NotFound, Unavailable
from skills import catalog_summary, merge_catalog

if TYPE_CHECKING:
    from agent.server.services import Services


class _SpaceParams(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")

    space_id: str = Field(default="default", min_length=1, max_length=256)


class CatalogParams(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    locale: str = Field(default="en", pattern=r"^(en|ja)$")
    source: str | None = Field(default=None, pattern=r"^(official|custom)$")


def _object(params: Any) -> dict[str, Any]:
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise InvalidParams("params must be an object with named members")
    return params


def _split(params: Any) -> tuple[str, dict[str, Any]]:
    p = _SpaceParams.model_validate(_object(params))
    rest = {k: v for k, v in _object(params).items() if k not in ("spaceId", "space_id")}
    return p.space_id, rest


def operator_methods(services: Services) -> dict[str, Any]:
    async def skills_catalog(params: Any) -> Any:
        p = CatalogParams.model_validate(_object(params))
        catalog = merge_catalog(services.official_skills, [])
        return catalog_summary(catalog, p.locale, p.source, brief=False)

    async def memory_service() -> Any:
        service = await services.memory.get() if services.memory is not None else None
        if service is None:
            raise Unavailable("memory is not available in this container")
        return service

    async def memory_search(params: Any) -> Any:
        from memory import SearchQuery

        space, rest = _split(params)
        query = SearchQuery.model_validate(rest)
        result = await (await memory_service()).search(space, query)
        return result.model_dump(mode="json", by_alias=True)

    async def memory_write(params: Any) -> Any:
        from memory import MemoryWrite
        from memory import NotFound as MemoryNotFound

        space, rest = _split(params)
        write = MemoryWrite.model_validate(rest)
        try:
            result = await (await memory_service()).write(space, write)
        except MemoryNotFound as exc:
            raise NotFound(str(exc)) from None
        return result.model_dump(mode="json", by_alias=True)

    return {"skills.catalog": skills_catalog, "memory.search": memory_search, "memory.write": memory_write}
