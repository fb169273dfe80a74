"""The agent's memory: episodes, facts and a bi-temporal graph per space, hybrid search, and the four tools."""

from control_bridge.errors import NotFound
from memory._context import format_hit, memory_context, render_memory_context
from memory._embedder import Embedder, EmbedderId, HashEmbedder, MiniLMEmbedder
from memory._ingest import MemoryIngestor
from memory._models import (
    EpisodeIn,
    FactIn,
    GraphQuery,
    GraphResult,
    MemoryWrite,
    Provenance,
    RunEpisode,
    SearchHit,
    SearchQuery,
    SearchResult,
    TimelineQuery,
    TimelineResult,
    WriteResult,
)
from memory._names import space_filename
from memory._rpc import rpc_methods
from memory._service import MemoryService
from memory._timeparse import parse_time
from memory._tools import MemoryTool, MemoryToolError, build_memory_tools

__all__ = [
    "Embedder",
    "EmbedderId",
    "EpisodeIn",
    "FactIn",
    "GraphQuery",
    "GraphResult",
    "HashEmbedder",
    "MemoryIngestor",
    "MemoryService",
    "MemoryTool",
    "MemoryToolError",
    "MemoryWrite",
    "MiniLMEmbedder",
    "NotFound",
    "Provenance",
    "RunEpisode",
    "SearchHit",
    "SearchQuery",
    "SearchResult",
    "TimelineQuery",
    "TimelineResult",
    "WriteResult",
    "build_memory_tools",
    "format_hit",
    "memory_context",
    "parse_time",
    "render_memory_context",
    "rpc_methods",
    "space_filename",
]
