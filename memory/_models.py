"""Pydantic models at the memory boundary: what callers send in and what they get back.

Field names are snake_case in Python; on the wire (JSON-RPC `memory.*`) camelCase aliases are accepted and
produced with `model_dump(by_alias=True)`, like `control_bridge.contract`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from control_bridge.wire import StrictWireModel, Timestamp
from memory._timeparse import TimeInput, parse_time

SearchMode = Literal["hybrid", "dense", "keyword"]
ItemType = Literal["episode", "fact", "entity", "edge"]
MAX_QUERY_CHARS = 4000
EPISODE_KINDS = ("user_message", "assistant_message", "tool_result", "note", "turn")


class _Model(StrictWireModel):
    """The project's wire base (camelCase aliases, both spellings accepted); unknown fields are errors."""


def _time(value: TimeInput | None) -> float | None:
    return None if value is None else parse_time(value)


class EpisodeIn(_Model):
    """One raw record. `key` makes a write idempotent (the same key is stored once)."""

    text: str = Field(min_length=1, max_length=200_000)
    kind: str = Field(default="note", min_length=1, max_length=64)
    role: str | None = None
    speaker: str | None = Field(default=None, max_length=200)
    run_id: str | None = None
    session_id: str | None = None
    thread_id: str | None = None
    tool_call_id: str | None = None
    key: str | None = Field(default=None, max_length=500)
    metadata: dict[str, Any] = Field(default_factory=dict)
    occurred_at: float | None = None
    sequence: int | None = None

    @field_validator("occurred_at", mode="before")
    @classmethod
    def _occurred(cls, value: Any) -> float | None:
        return _time(value)


class RunEpisode(EpisodeIn):
    """One record of a run as the agent hands it to memory: the agent maps its own events onto this, so
    memory never parses event names or event data (`agent/memoryhost.py` is that mapping)."""

    space_id: str = Field(min_length=1, max_length=500)
    run_id: str = Field(min_length=1)
    kind: Literal["user_message", "assistant_message", "tool_result"]


class FactIn(_Model):
    """A distilled statement. With subject/predicate/object it also becomes a graph edge."""

    text: str = Field(min_length=1, max_length=20_000)
    confidence: float = Field(default=1.0, ge=0.0, le=1.0)
    subject: str | None = Field(default=None, max_length=200)
    predicate: str | None = Field(default=None, max_length=100)
    object: str | None = Field(default=None, max_length=200)
    exclusive: bool = True  # a new object for the same subject+predicate expires the old edge
    valid_from: float | None = None
    valid_to: float | None = None
    episode_ids: list[str] = Field(default_factory=list)
    run_id: str | None = None
    session_id: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("valid_from", "valid_to", mode="before")
    @classmethod
    def _valid(cls, value: Any) -> float | None:
        return _time(value)


class MemoryWrite(_Model):
    episodes: list[EpisodeIn] = Field(default_factory=list, max_length=10_000)
    facts: list[FactIn] = Field(default_factory=list, max_length=10_000)


class WriteResult(_Model):
    episode_ids: list[str] = Field(default_factory=list)
    fact_ids: list[str] = Field(default_factory=list)
    edge_ids: list[str] = Field(default_factory=list)
    duplicates: int = 0


class SearchQuery(_Model):
    query: str = Field(min_length=1)
    top_k: int = Field(default=8, ge=1, le=100)
    mode: SearchMode = "hybrid"
    kinds: list[str] | None = None  # episode kinds and/or "fact"
    session_id: str | None = None
    thread_id: str | None = None
    run_id: str | None = None
    since: float | None = None
    until: float | None = None
    recency_weight: float = Field(default=0.0, ge=0.0, le=1.0)
    expand_neighbors: int = Field(default=0, ge=0, le=5)

    @field_validator("query")
    @classmethod
    def _clip(cls, value: str) -> str:
        # Huge queries are clipped, not rejected: the head carries the intent, and cost stays bounded.
        return value[:MAX_QUERY_CHARS]

    @field_validator("since", "until", mode="before")
    @classmethod
    def _times(cls, value: Any) -> float | None:
        return _time(value)


class SearchHit(_Model):
    id: str
    type: ItemType
    kind: str
    text: str
    score: float
    key: str | None = None
    speaker: str | None = None
    run_id: str | None = None
    session_id: str | None = None
    thread_id: str | None = None
    tool_call_id: str | None = None
    occurred_at: Timestamp | None = None
    episode_ids: list[str] = Field(default_factory=list)
    matched: list[str] = Field(default_factory=list)


class SearchResult(_Model):
    query: str
    mode: SearchMode
    """The ranking actually used: `keyword` when a dense or hybrid search found the model still loading."""
    hits: list[SearchHit]
    note: str | None = None


class TimelineQuery(_Model):
    from_: float | None = Field(default=None, alias="from")
    to: float | None = None
    query: str | None = None
    session_id: str | None = None
    kinds: list[str] | None = None
    limit: int = Field(default=20, ge=1, le=500)
    order: Literal["asc", "desc"] = "asc"

    @field_validator("from_", "to", mode="before")
    @classmethod
    def _times(cls, value: Any) -> float | None:
        return _time(value)

    @field_validator("query")
    @classmethod
    def _clip(cls, value: str | None) -> str | None:
        return None if value is None else value[:MAX_QUERY_CHARS]


class TimelineItem(_Model):
    id: str
    type: ItemType
    kind: str
    text: str
    at: Timestamp | None
    valid_to: Timestamp | None = None
    expired_at: Timestamp | None = None
    session_id: str | None = None
    run_id: str | None = None
    episode_ids: list[str] = Field(default_factory=list)


class TimelineResult(_Model):
    items: list[TimelineItem]


class GraphQuery(_Model):
    entity: str | None = Field(default=None, max_length=500)
    node_id: str | None = None
    query: str | None = Field(default=None, max_length=MAX_QUERY_CHARS)
    target: str | None = Field(default=None, max_length=500)  # with entity: paths between the two
    max_depth: int = Field(default=2, ge=1, le=4)
    relation_types: list[str] | None = None
    limit: int = Field(default=50, ge=1, le=500)
    include_expired: bool = False


class GraphNode(_Model):
    id: str
    name: str
    type: str


class GraphEdge(_Model):
    id: str
    source: str
    target: str
    predicate: str
    weight: float
    valid_from: Timestamp | None = None
    valid_to: Timestamp | None = None
    recorded_at: Timestamp | None = None
    expired_at: Timestamp | None = None
    episode_ids: list[str] = Field(default_factory=list)


class GraphResult(_Model):
    nodes: list[GraphNode]
    edges: list[GraphEdge]
    paths: list[list[str]] = Field(default_factory=list)


class ProvenanceEpisode(_Model):
    id: str
    kind: str
    text: str
    run_id: str | None
    session_id: str | None
    thread_id: str | None
    tool_call_id: str | None
    key: str | None
    occurred_at: Timestamp | None
    recorded_at: Timestamp | None


class Provenance(_Model):
    id: str
    type: ItemType
    item: dict[str, Any]
    episodes: list[ProvenanceEpisode]
