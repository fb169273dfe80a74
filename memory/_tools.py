"""The four local memory tools, as plain objects the agent's tool registry adapts (no import of `agent`).

Arguments are validated here as well as by the loop's JSON Schema check, so a direct caller gets the same
typed failures: `invalid_call` for bad arguments, `domain_rejection` for ids or entities that do not exist.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from control_bridge.errors import NotFound
from control_bridge.tool_failure import ToolFailure
from memory._models import GraphQuery, SearchQuery, TimelineQuery
from memory._service import MemoryService

logger = logging.getLogger(__name__)
MAX_HIT_CHARS = 1500


MemoryToolError = ToolFailure
"""The memory tools fail with the project's one typed tool failure (kind, message, hint)."""


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class SemanticArgs(_Args):
    query: str = Field(min_length=1)
    top_k: int = Field(default=8, ge=1, le=50)
    kinds: list[str] | None = None
    session_id: str | None = None
    since: str | float | None = None
    until: str | float | None = None
    mode: Literal["hybrid", "dense", "keyword"] = "hybrid"


class GraphArgs(_Args):
    entity: str | None = None
    node_id: str | None = None
    query: str | None = None
    target: str | None = None
    max_depth: int = Field(default=2, ge=1, le=4)
    relation_types: list[str] | None = None
    limit: int = Field(default=25, ge=1, le=200)
    include_expired: bool = False


class ProvenanceArgs(_Args):
    id: str = Field(min_length=3, max_length=40)


class TimelineArgs(_Args):
    from_: str | float | None = Field(default=None, alias="from")
    to: str | float | None = None
    query: str | None = None
    session_id: str | None = None
    kinds: list[str] | None = None
    limit: int = Field(default=20, ge=1, le=200)
    order: Literal["asc", "desc"] = "asc"


_STR_LIST = {"type": "array", "items": {"type": "string"}}
_TIME = {"type": ["string", "number"], "description": "ISO 8601, epoch seconds, or relative ('last 7 days')"}
SCHEMAS: dict[str, dict[str, Any]] = {
    "semantic_search_memory": {
        "type": "object",
        "properties": {
            "query": {"type": "string", "description": "what to look for, in natural language"},
            "top_k": {"type": "integer", "minimum": 1, "maximum": 50, "default": 8},
            "kinds": {**_STR_LIST, "description": "user_message, assistant_message, tool_result, note, fact"},
            "session_id": {"type": "string"},
            "since": _TIME,
            "until": _TIME,
            "mode": {"type": "string", "enum": ["hybrid", "dense", "keyword"], "default": "hybrid"},
        },
        "required": ["query"],
        "additionalProperties": False,
    },
    "graph_search_memory": {
        "type": "object",
        "properties": {
            "entity": {"type": "string", "description": "entity name to start from"},
            "node_id": {"type": "string", "description": "entity id (ent:N) to start from"},
            "query": {"type": "string", "description": "free text; its words are matched to entity names"},
            "target": {"type": "string", "description": "with entity: find paths between the two"},
            "max_depth": {"type": "integer", "minimum": 1, "maximum": 4, "default": 2},
            "relation_types": _STR_LIST,
            "limit": {"type": "integer", "minimum": 1, "maximum": 200, "default": 25},
            "include_expired": {"type": "boolean", "default": False},
        },
        "additionalProperties": False,
    },
    "provenance_lookup": {
        "type": "object",
        "properties": {"id": {"type": "string", "description": "a memory id: ep:N, fact:N, edge:N or ent:N"}},
        "required": ["id"],
        "additionalProperties": False,
    },
    "timeline_search": {
        "type": "object",
        "properties": {
            "from": _TIME,
            "to": _TIME,
            "query": {"type": "string"},
            "session_id": {"type": "string"},
            "kinds": {**_STR_LIST, "description": "episode kinds, fact, edge"},
            "limit": {"type": "integer", "minimum": 1, "maximum": 200, "default": 20},
            "order": {"type": "string", "enum": ["asc", "desc"], "default": "asc"},
        },
        "additionalProperties": False,
    },
}
DESCRIPTIONS = {
    "semantic_search_memory": "Search this space's memory (past messages, tool results, facts) by meaning and "
    "keywords. Every hit has an id for provenance_lookup.",
    "graph_search_memory": "Explore the entity graph: what an entity is connected to (depth ≤ 4), or the paths "
    "between two entities, with each edge's validity and source episodes.",
    "provenance_lookup": "Where a memory item came from: the episodes behind a fact, edge or entity, with run, "
    "session, tool call and time.",
    "timeline_search": "Memory in time order (world time): episodes, facts and relation changes between two "
    "times, optionally matching a query.",
}


def _clip(hit: dict[str, Any]) -> dict[str, Any]:
    text = hit.get("text", "")
    if len(text) > MAX_HIT_CHARS:
        hit["text"] = text[:MAX_HIT_CHARS] + " …"
    return hit


class MemoryTool:
    side_effects = False

    def __init__(self, name: str, args: type[_Args], handler: Callable[[str, Any], Awaitable[Any]]) -> None:
        self.name = name
        self.description = DESCRIPTIONS[name]
        self.parameters = SCHEMAS[name]
        self._args = args
        self._handler = handler

    async def execute(self, arguments: dict[str, Any], ctx: Any) -> Any:
        try:
            args = self._args.model_validate(arguments or {})
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}" for e in exc.errors()
            )
            raise MemoryToolError("invalid_call", f"{self.name}: {problems}") from None
        space = getattr(ctx, "space_id", None) or "default"
        try:
            return await self._handler(space, args)
        except MemoryToolError:
            raise
        except NotFound as exc:
            raise MemoryToolError("domain_rejection", f"not found: {exc}", "replan") from None
        except (ValueError, ValidationError) as exc:
            raise MemoryToolError("invalid_call", str(exc)[:500]) from None
        except Exception:
            logger.exception("memory tool %s failed", self.name)
            raise MemoryToolError("internal", f"{self.name} failed inside the memory store") from None


def build_memory_tools(service: MemoryService) -> list[MemoryTool]:
    async def semantic(space: str, a: SemanticArgs) -> dict[str, Any]:
        q = SearchQuery.model_validate(
            {
                "query": a.query,
                "top_k": a.top_k,
                "kinds": a.kinds,
                "session_id": a.session_id,
                "since": a.since,
                "until": a.until,
                "mode": a.mode,
            }
        )
        result = await service.search(space, q)
        hits = [_clip(h.model_dump(mode="json", exclude_none=True)) for h in result.hits]
        out: dict[str, Any] = {"query": result.query, "mode": result.mode, "hits": hits}
        if result.note:
            out["note"] = result.note
        return out

    async def graph(space: str, a: GraphArgs) -> dict[str, Any]:
        if not (a.entity or a.node_id or a.query):
            raise MemoryToolError("invalid_call", "graph_search_memory needs one of entity, node_id or query")
        result = await service.graph(space, GraphQuery.model_validate(a.model_dump()))
        return result.model_dump(mode="json", exclude_none=True)

    async def provenance(space: str, a: ProvenanceArgs) -> dict[str, Any]:
        return (await service.provenance(space, a.id.strip())).model_dump(mode="json")

    async def timeline(space: str, a: TimelineArgs) -> dict[str, Any]:
        q = TimelineQuery.model_validate(a.model_dump(by_alias=True))
        result = await service.timeline(space, q)
        return {"items": [_clip(i.model_dump(mode="json", exclude_none=True)) for i in result.items]}

    return [
        MemoryTool("semantic_search_memory", SemanticArgs, semantic),
        MemoryTool("graph_search_memory", GraphArgs, graph),
        MemoryTool("provenance_lookup", ProvenanceArgs, provenance),
        MemoryTool("timeline_search", TimelineArgs, timeline),
    ]
