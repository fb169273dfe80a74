"""The embedding worker: one background task that gives vectors to rows written without one.

It batches across episodes, runs and spaces (the model's batch rate is what bounds ingestion, not the
number of writers), runs the model in a worker thread, and overlaps the next batch's embedding with the
previous batch's database write. Nothing waits for it: rows are durable and keyword-searchable before it
sees them, and rows it has not reached when the process stops are found again (`embedding IS NULL`) by the
next process that opens the space.

`allow_load=False` (a one-shot `agent run`) never loads a model that is not already in memory: the rows
stay queued in SQLite for the next long-lived process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np

from memory._embedder import Embedder, EmbedderId, embedder_id, is_loaded
from memory._index import EPISODE
from memory._store import PendingRow

logger = logging.getLogger(__name__)
BATCH = 1024
SAVE_EVERY = 20_000
SAVE_SHARE = 4
"""The graph file is saved again once max(SAVE_EVERY, size / SAVE_SHARE) vectors were added since its last
save: a restart re-adds at most that many from SQLite, and a bulk build writes the file a logarithmic number
of times (every 20,000 rows, a 1M build would write ~50 files of up to 0.9 GB)."""


class EmbedWorker:
    def __init__(self, embedder: Embedder, use: Callable[..., Any], *, allow_load: bool = True) -> None:
        self.embedder = embedder
        self.identity: EmbedderId = embedder_id(embedder)
        self.allow_load = allow_load
        self.embedded = 0
        self.batch = BATCH
        self._use = use
        self._dirty: dict[str, None] = {}  # spaces that may have rows without vectors, oldest first
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._since_save: dict[str, int] = {}
        self._cursor: dict[str, tuple[int, int]] = {}  # per space: last episode / fact id handed out
        self.on_progress: Callable[[int, int], Awaitable[None] | None] | None = None
        # Per space with work queued: the tick of its last notification, and the tick its rows are written up
        # to; `_draining` marks the spaces drained into the batch being collected.
        self._tick = 0
        self._asked: dict[str, int] = {}
        self._done: dict[str, int] = {}
        self._draining: dict[str, int] = {}
        self._progress = asyncio.Condition()

    @property
    def ready(self) -> bool:
        return self.allow_load or is_loaded(self.embedder)

    def notify(self, space_id: str) -> None:
        self._dirty[space_id] = None
        self._tick += 1
        self._asked[space_id] = self._tick
        self._idle.clear()
        self._wake.set()
        self._ensure_task()

    def wake(self) -> None:
        """The model became ready: resume queued work."""
        self._wake.set()
        if self._dirty:
            self._ensure_task()

    def _ensure_task(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="memory-embed")

    async def settle(self, space_id: str | None = None) -> None:
        """Returns once every queued row has a vector (loads the model if needed: callers that ask wait)."""
        self.allow_load = True
        if not self._dirty and self._idle.is_set():
            return
        self._wake.set()
        self._ensure_task()
        while not self._idle.is_set() or (self._dirty and (space_id is None or space_id in self._dirty)):
            await self._idle.wait()
            if not self._dirty:
                break
            await asyncio.sleep(0)

    async def caught_up(self, space_id: str, timeout_s: float) -> None:
        """Waits, at most `timeout_s`, until the rows the space had queued when it was called have vectors, so
        a dense search right after a write finds it. Writes that come later, or to other spaces, are not waited
        for; a backlog longer than the bound is searched as it stands (keyword search already sees it)."""
        target = self._asked.get(space_id)
        if target is None or not self.ready:
            return

        def caught() -> bool:
            return space_id not in self._asked or self._done.get(space_id, 0) >= target or not self.ready

        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s), self._progress:
                await self._progress.wait_for(caught)

    async def _advance(self, drained: dict[str, int]) -> None:
        """Records the spaces whose queues are written up to a tick, forgets the ones fully caught up (so the
        marks stay as few as the spaces with work queued), and wakes `caught_up`."""
        self._done.update(drained)
        for space_id in drained:
            if space_id not in self._dirty and self._asked.get(space_id) == drained[space_id]:
                del self._asked[space_id], self._done[space_id]
        async with self._progress:
            self._progress.notify_all()

    async def _run(self) -> None:
        """Runs until cancelled; idle (and the graph files saved) whenever nothing is queued."""
        while True:
            if not self._dirty or not self.ready:
                if self._since_save:
                    await self._save_all()
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            self._idle.clear()
            self._cursor.clear()
            writing: asyncio.Task[None] | None = None
            try:
                while self._dirty and self.ready:
                    batch = await self._collect()
                    if not batch:
                        continue
                    texts = [text for _, rows in batch for _, _, text in rows]
                    vectors = await self.embedder.embed(texts)
                    if writing is not None:
                        await writing
                    drained, self._draining = self._draining, {}
                    writing = asyncio.ensure_future(self._write(batch, vectors, drained))
                if writing is not None:
                    await writing
            except asyncio.CancelledError:
                if writing is not None:
                    writing.cancel()
                raise
            except Exception:
                logger.exception("memory embedding failed; the rows stay queued for the next process")
                self._dirty.clear()
                self._asked.clear()
                self._done.clear()
                self._draining.clear()
                await self._advance({})  # no search waits for rows that will not come

    async def _collect(self) -> list[tuple[str, list[PendingRow]]]:
        """Up to `batch` rows across spaces, past the rows already handed out in this pass."""
        batch: list[tuple[str, list[PendingRow]]] = []
        room = self.batch
        for space_id in list(self._dirty):
            after = self._cursor.get(space_id, (0, 0))
            asked = self._asked.get(space_id)
            async with self._use(space_id, create=False) as store:
                rows: list[PendingRow] = (
                    [] if store is None else await asyncio.to_thread(store.unembedded, room, *after)
                )
            # Nothing more queued in this space beyond these, unless a write came in while they were read.
            if len(rows) < room and self._asked.get(space_id) == asked:
                self._dirty.pop(space_id, None)
                if asked is not None:
                    self._draining[space_id] = asked
            if rows:
                episode_ids = [r for t, r, _ in rows if t == EPISODE]
                fact_ids = [r for t, r, _ in rows if t != EPISODE]
                self._cursor[space_id] = (max(episode_ids, default=after[0]), max(fact_ids, default=after[1]))
                batch.append((space_id, rows))
                room -= len(rows)
            if room <= 0:
                break
        return batch

    async def _write(
        self, batch: list[tuple[str, list[PendingRow]]], vectors: np.ndarray, drained: dict[str, int]
    ) -> None:
        offset = 0
        for space_id, rows in batch:
            part = vectors[offset : offset + len(rows)]
            offset += len(rows)
            async with self._use(space_id, create=False) as store:
                if store is None:
                    continue
                written = await asyncio.to_thread(store.set_vectors, rows, part, self.identity)
                self.embedded += written
                done = self._since_save.get(space_id, 0) + written
                if done >= max(SAVE_EVERY, len(store.index.ann) // SAVE_SHARE):
                    await asyncio.to_thread(store.save_index)
                    done = 0
                self._since_save[space_id] = done
        await self._advance(drained)

    async def _save_all(self) -> None:
        for space_id in list(self._since_save):
            async with self._use(space_id, create=False) as store:
                if store is not None:
                    await asyncio.to_thread(store.save_index)
            self._since_save.pop(space_id, None)

    async def aclose(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._task = None
