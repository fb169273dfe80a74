"""MemoryService: the async face of the substrate, one SQLite database per space.

Embedding happens before a write takes the space's lock, and every database call runs in a worker thread,
so neither the model nor SQLite ever blocks the event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from pathlib import Path
from typing import Any

import numpy as np

from memory._embedder import Embedder
from memory._graph import GraphView
from memory._models import (
    EpisodeIn,
    GraphQuery,
    GraphResult,
    MemoryWrite,
    Provenance,
    SearchQuery,
    SearchResult,
    TimelineQuery,
    TimelineResult,
    WriteResult,
)
from memory._search import candidates
from memory._search import keyword as run_keyword
from memory._search import search as run_search
from memory._store import SpaceStore, episode_key, indexed_text, norm, text_hash
from memory._views import provenance as run_provenance
from memory._views import timeline as run_timeline

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def space_filename(space_id: str) -> str:
    """A file name that cannot escape the memory folder; altered ids get a hash so two never collide."""
    safe = _UNSAFE.sub("_", space_id.strip())[:80].lstrip(".") or "default"
    if safe != space_id:
        safe += "-" + hashlib.sha1(space_id.encode()).hexdigest()[:10]
    return safe + ".db"


class MemoryService:
    def __init__(self, data_dir: Path, embedder: Embedder) -> None:
        self.root = Path(data_dir) / "memory"
        self.embedder = embedder
        self._stores: dict[str, SpaceStore] = {}
        self._graphs: dict[str, GraphView] = {}
        self._opening: dict[str, asyncio.Lock] = {}
        self._closed = False

    async def store(self, space_id: str) -> SpaceStore:
        if self._closed:
            raise RuntimeError("memory service is closed")
        if space_id in self._stores:
            return self._stores[space_id]
        lock = self._opening.setdefault(space_id, asyncio.Lock())
        async with lock:
            if space_id not in self._stores:
                path = self.root / space_filename(space_id)
                self._stores[space_id] = await asyncio.to_thread(SpaceStore, path, self.embedder.dim)
                self._graphs[space_id] = GraphView()
        return self._stores[space_id]

    async def _embed(self, texts: list[str]) -> np.ndarray | None:
        if not texts:
            return None
        return await self.embedder.embed(texts)

    async def search(self, space_id: str, query: SearchQuery | dict[str, Any]) -> SearchResult:
        q = query if isinstance(query, SearchQuery) else SearchQuery.model_validate(query)
        store = await self.store(space_id)
        if q.mode == "keyword":
            hits = await asyncio.to_thread(self._locked_search, store, q, None, None)
            return SearchResult(query=q.query, mode=q.mode, hits=hits)
        embedding = asyncio.ensure_future(self.embedder.embed([q.query]))
        ranking = None
        try:
            if q.mode == "hybrid":  # BM25 runs while the model embeds the query
                ranking = await asyncio.to_thread(self._locked_keyword, store, q)
            qvec = (await embedding)[0]
        finally:
            embedding.cancel()
        hits = await asyncio.to_thread(self._locked_search, store, q, qvec, ranking)
        return SearchResult(query=q.query, mode=q.mode, hits=hits)

    @staticmethod
    def _locked_search(
        store: SpaceStore, q: SearchQuery, qvec: np.ndarray | None, ranking: list[Any] | None
    ) -> list[Any]:
        # One lock around the whole search: the in-memory index may grow under a concurrent write.
        with store.lock:
            return run_search(store, q, qvec, keyword_ranking=ranking)

    @staticmethod
    def _locked_keyword(store: SpaceStore, q: SearchQuery) -> list[Any]:
        with store.lock:
            return run_keyword(store, q, candidates(q))

    async def write(self, space_id: str, write: MemoryWrite | dict[str, Any]) -> WriteResult:
        w = write if isinstance(write, MemoryWrite) else MemoryWrite.model_validate(write)
        store = await self.store(space_id)
        result = WriteResult()
        if w.episodes:
            result = await self.write_episodes(space_id, w.episodes)
        if w.facts:
            known = await asyncio.to_thread(store.known_facts, w.facts)
            fresh = [i for i, f in enumerate(w.facts) if text_hash(norm(f.text)) not in known]
            vectors = None
            if fresh:
                embedded = await self._embed([w.facts[i].text for i in fresh])
                vectors = np.zeros((len(w.facts), self.embedder.dim), dtype=np.float32)
                vectors[fresh] = embedded
            fact_ids, edge_ids, dups = await asyncio.to_thread(store.insert_facts, w.facts, vectors)
            result.fact_ids, result.edge_ids = fact_ids, edge_ids
            result.duplicates += dups
        return result

    async def write_episodes(self, space_id: str, episodes: list[EpisodeIn]) -> WriteResult:
        store = await self.store(space_id)
        keys = [episode_key(e) for e in episodes]
        known = await asyncio.to_thread(store.existing_keys, keys)
        fresh = [i for i, k in enumerate(keys) if k not in known]
        vectors = None
        if fresh:
            embedded = await self._embed([indexed_text(episodes[i].speaker, episodes[i].text) for i in fresh])
            assert embedded is not None
            vectors = np.zeros((len(episodes), self.embedder.dim), dtype=np.float32)
            vectors[fresh] = embedded
        ids, dups = await asyncio.to_thread(store.insert_episodes, episodes, vectors)
        return WriteResult(episode_ids=ids, duplicates=dups)

    async def timeline(
        self, space_id: str, query: TimelineQuery | dict[str, Any] | None = None
    ) -> TimelineResult:
        q = query if isinstance(query, TimelineQuery) else TimelineQuery.model_validate(query or {})
        store = await self.store(space_id)
        return await asyncio.to_thread(run_timeline, store, q)

    async def graph(self, space_id: str, query: GraphQuery | dict[str, Any]) -> GraphResult:
        q = query if isinstance(query, GraphQuery) else GraphQuery.model_validate(query)
        if not (q.entity or q.node_id or q.query):
            raise ValueError("graph search needs one of entity, node_id or query")
        store = await self.store(space_id)
        return await asyncio.to_thread(self._graphs[space_id].search, store, q)

    async def provenance(self, space_id: str, item_id: str) -> Provenance:
        store = await self.store(space_id)
        return await asyncio.to_thread(run_provenance, store, item_id)

    async def add_graph(
        self,
        space_id: str,
        mentions: list[tuple[int, str, str]],
        edges: list[tuple[str, str, str, str, str, list[str], float | None]],
    ) -> list[str]:
        store = await self.store(space_id)
        return await asyncio.to_thread(store.add_graph, mentions, edges)

    async def run_episodes(self, space_id: str, run_id: str) -> list[dict[str, Any]]:
        store = await self.store(space_id)
        return await asyncio.to_thread(
            store.rows,
            "SELECT id, kind, role, speaker, text, metadata, session_id, thread_id, tool_call_id, occurred_at"
            " FROM episodes WHERE run_id=? ORDER BY id",
            [run_id],
        )

    async def aclose(self) -> None:
        self._closed = True
        stores, self._stores = self._stores, {}
        for store in stores.values():
            await asyncio.to_thread(store.close)
