"""MemoryService: the async face of the substrate, one SQLite database per space.

Writes return once rows are durable; the embedding worker gives them vectors afterwards, batched across
spaces. Spaces are opened through a bounded LRU pool, and every database call runs in a worker thread, so
neither the model nor SQLite ever blocks the event loop and no number of spaces exhausts descriptors.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import numpy as np

from control_bridge.errors import NotFound
from memory._embedder import Embedder, embedder_id, is_loaded
from memory._embedworker import EmbedWorker
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
from memory._names import space_filename
from memory._pool import SpacePool
from memory._querycache import QueryCache
from memory._search import candidates
from memory._search import dense as run_dense
from memory._search import keyword as run_keyword
from memory._search import search as run_search
from memory._store import SpaceStore, parse_id
from memory._views import provenance as run_provenance
from memory._views import timeline as run_timeline

__all__ = ["MemoryService", "space_filename"]

logger = logging.getLogger(__name__)
FRESH_WAIT_S = 1.0
"""How long a dense search waits for the embedding worker to reach what its space had just written (a fact
told one turn ago must be found the next); past it the search runs on the vectors there are."""
MODEL_LOADING = "the embedding model is still loading: these are keyword matches; search again by meaning in a few seconds"


class MemoryService:
    """`wait_for_model`: a search that finds the model not loaded loads it (a CLI) instead of searching by
    keyword while it loads in the background (a server: never make a person wait for the model)."""

    def __init__(
        self,
        data_dir: Path,
        embedder: Embedder,
        *,
        max_open_spaces: int | None = None,
        load_model: bool = True,
        wait_for_model: bool = True,
    ) -> None:
        self.root = Path(data_dir) / "memory"
        self.embedder = embedder
        self.identity = embedder_id(embedder)
        self.wait_for_model = wait_for_model
        self.pool = SpacePool(self.root, self._open, max_open_spaces)
        self.pool.on_close.append(self._forget_graph)
        self.pool.on_open.append(self._opened)
        self.worker = EmbedWorker(embedder, self.pool.use, allow_load=load_model)
        self.queries = QueryCache()
        self._graphs: dict[str, GraphView] = {}
        self._loading: asyncio.Task[None] | None = None

    def _forget_graph(self, space_id: str) -> None:
        self._graphs.pop(space_id, None)

    def _open(self, path: Path, space_id: str) -> SpaceStore:
        return SpaceStore(path, self.identity, space_id)

    async def store(self, space_id: str) -> SpaceStore:
        """Opens (creating) a space and returns its store: for tests and diagnostics; the pool may close it."""
        async with self._use(space_id) as store:
            assert store is not None
            return store

    def _use(self, space_id: str, create: bool = True) -> AbstractAsyncContextManager[SpaceStore | None]:
        return self.pool.use(space_id, create)

    def _opened(self, space_id: str, store: SpaceStore) -> None:
        """A space opened with rows still lacking vectors (a previous process stopped first): queue them."""
        if store.pending() > 0:
            self.worker.notify(space_id)

    async def settle(self, space_id: str | None = None) -> None:
        """Waits until every written row has its vector (benchmarks, imports, tests)."""
        await self.worker.settle(space_id)

    def _warm_in_background(self) -> None:
        if self._loading is None and self.worker.allow_load and hasattr(self.embedder, "load"):
            self._loading = asyncio.ensure_future(self._load())

    async def _load(self) -> None:
        try:
            await self.embedder.load()  # type: ignore[attr-defined]
        except Exception:
            logger.exception("the embedding model could not be loaded; memory search uses keywords only")
            return
        self.worker.wake()

    async def _query_vector(self, text: str) -> np.ndarray | None:
        cached = self.queries.get(self.identity, text)
        if cached is not None:
            return cached
        if not is_loaded(self.embedder) and not self.wait_for_model:
            self._warm_in_background()
            return None
        vector: np.ndarray = (await self.embedder.embed([text]))[0]
        self.queries.put(self.identity, text, vector)
        return vector

    async def search(self, space_id: str, query: SearchQuery | dict[str, Any]) -> SearchResult:
        q = query if isinstance(query, SearchQuery) else SearchQuery.model_validate(query)
        async with self._use(space_id, create=False) as store:
            if store is None:
                return SearchResult(query=q.query, mode=q.mode, hits=[])
            if q.mode == "keyword":
                hits = await asyncio.to_thread(self._locked_search, store, q, None, None)
                return SearchResult(query=q.query, mode=q.mode, hits=hits)
            embedding = asyncio.ensure_future(self._query_vector(q.query))
            # BM25 runs on the space's read connection while the model embeds the query and then while
            # the graph is walked under the space's lock: the two sides of a hybrid search overlap.
            keywords = (
                asyncio.ensure_future(asyncio.to_thread(run_keyword, store, q, candidates(q)))
                if q.mode == "hybrid"
                else None
            )
            try:
                qvec = await embedding
                if qvec is None:  # never empty-handed while the model loads: say what was ranked instead
                    ranking = None if keywords is None else await keywords
                    keyword_only = q.model_copy(update={"mode": "keyword"})
                    hits = await asyncio.to_thread(self._locked_search, store, keyword_only, None, ranking)
                    return SearchResult(query=q.query, mode="keyword", hits=hits, note=MODEL_LOADING)
                await self.worker.caught_up(space_id, FRESH_WAIT_S)  # let it reach what was just written
                nearest = await asyncio.to_thread(self._locked_dense, store, q, qvec)
                ranking = None if keywords is None else await keywords
            finally:
                embedding.cancel()
                if keywords is not None:
                    keywords.cancel()
            hits = await asyncio.to_thread(self._locked_search, store, q, qvec, ranking, nearest)
        return SearchResult(query=q.query, mode=q.mode, hits=hits)

    @property
    def dense_ready(self) -> bool:
        """Whether a dense search now ranks by meaning (the model is in memory)."""
        return is_loaded(self.embedder)

    @staticmethod
    def _locked_search(
        store: SpaceStore,
        q: SearchQuery,
        qvec: np.ndarray | None,
        ranking: list[Any] | None,
        nearest: list[Any] | None = None,
    ) -> list[Any]:
        # Under the space's lock: the in-memory index may grow under a concurrent write.
        with store.lock:
            return run_search(store, q, qvec, keyword_ranking=ranking, dense_ranking=nearest)

    @staticmethod
    def _locked_dense(store: SpaceStore, q: SearchQuery, qvec: np.ndarray) -> list[Any]:
        with store.lock:
            return run_dense(store, q, qvec, candidates(q))

    async def write(self, space_id: str, write: MemoryWrite | dict[str, Any]) -> WriteResult:
        w = write if isinstance(write, MemoryWrite) else MemoryWrite.model_validate(write)
        result = WriteResult()
        if w.episodes:
            result = await self.write_episodes(space_id, w.episodes)
        if w.facts:
            async with self._use(space_id) as store:
                assert store is not None
                fact_ids, edge_ids, dups = await asyncio.to_thread(store.insert_facts, w.facts)
            result.fact_ids, result.edge_ids = fact_ids, edge_ids
            result.duplicates += dups
            self.worker.notify(space_id)
        return result

    async def write_episodes(self, space_id: str, episodes: list[EpisodeIn]) -> WriteResult:
        """Durable and keyword-searchable on return; vectors follow from the embedding worker."""
        async with self._use(space_id) as store:
            assert store is not None
            ids, dups = await asyncio.to_thread(store.insert_episodes, episodes)
        if dups < len(episodes):
            self.worker.notify(space_id)
        return WriteResult(episode_ids=ids, duplicates=dups)

    async def timeline(
        self, space_id: str, query: TimelineQuery | dict[str, Any] | None = None
    ) -> TimelineResult:
        q = query if isinstance(query, TimelineQuery) else TimelineQuery.model_validate(query or {})
        async with self._use(space_id, create=False) as store:
            if store is None:
                return TimelineResult(items=[])
            return await asyncio.to_thread(run_timeline, store, q)

    async def graph(self, space_id: str, query: GraphQuery | dict[str, Any]) -> GraphResult:
        q = query if isinstance(query, GraphQuery) else GraphQuery.model_validate(query)
        if not (q.entity or q.node_id or q.query):
            raise ValueError("graph search needs one of entity, node_id or query")
        async with self._use(space_id, create=False) as store:
            if store is None:
                raise NotFound("no entity matches " + repr((q.entity or q.node_id or q.query or "")[:80]))
            view = self._graphs.setdefault(space_id, GraphView())
            return await asyncio.to_thread(view.search, store, q)

    async def provenance(self, space_id: str, item_id: str) -> Provenance:
        parse_id(item_id)  # a malformed id is a ValueError whether or not the space exists
        async with self._use(space_id, create=False) as store:
            if store is None:
                raise NotFound(item_id[:40])
            return await asyncio.to_thread(run_provenance, store, item_id)

    async def add_graph(
        self,
        space_id: str,
        mentions: list[tuple[int, str, str]],
        edges: list[tuple[str, str, str, str, str, list[str], float | None]],
    ) -> list[str]:
        async with self._use(space_id) as store:
            assert store is not None
            return await asyncio.to_thread(store.add_graph, mentions, edges)

    async def rows(self, space_id: str, query: str, params: list[Any]) -> list[dict[str, Any]]:
        """A read-only query on one space ([] for a space that does not exist)."""
        async with self._use(space_id, create=False) as store:
            if store is None:
                return []
            return await asyncio.to_thread(store.rows, query, params)

    async def run_episodes(self, space_id: str, run_id: str) -> list[dict[str, Any]]:
        return await self.rows(
            space_id,
            "SELECT id, kind, role, speaker, text, metadata, session_id, thread_id, tool_call_id, occurred_at"
            " FROM episodes WHERE run_id=? ORDER BY id",
            [run_id],
        )

    async def aclose(self) -> None:
        """Stops the embedding worker (rows it did not reach stay queued in SQLite) and closes every space."""
        if self._loading is not None:
            self._loading.cancel()
        await self.worker.aclose()
        await self.pool.aclose()
