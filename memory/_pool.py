"""A bounded LRU pool of open space databases: the number of spaces never bounds the server's descriptors.

Each open space holds up to five descriptors (the database, its WAL and shared-memory files, and keyword
search's read connection's database and WAL: memory/_bm25.py). The pool keeps
at most `max_open` spaces open; an operation pins its space for its duration, and opening one more closes the
least recently used unpinned space (its ANN graph saved first). When every open space is pinned, a new one
waits for a release rather than exceed the budget. A read of a space that has no file creates nothing.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from memory._names import legacy_filename, space_filename
from memory._store import SpaceStore

logger = logging.getLogger(__name__)
DESCRIPTORS_PER_SPACE = 5
DESCRIPTOR_SHARE = 0.25
"""Open spaces may use at most this share of the process's descriptor limit: the rest stays for sockets."""
MAX_OPEN_DEFAULT = 128


def default_max_open() -> int:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return MAX_OPEN_DEFAULT
    return max(2, min(MAX_OPEN_DEFAULT, int(soft * DESCRIPTOR_SHARE) // DESCRIPTORS_PER_SPACE))


class SpacePool:
    def __init__(
        self, root: Path, opener: Callable[[Path, str], SpaceStore], max_open: int | None = None
    ) -> None:
        self.root = root
        self.max_open = max_open or default_max_open()
        self._open = opener
        self._stores: OrderedDict[str, SpaceStore] = OrderedDict()
        self._pins: dict[str, int] = {}
        self._changed = asyncio.Condition()
        self._opening: dict[str, asyncio.Lock] = {}
        self.on_close: list[Callable[[str], None]] = []
        self.on_open: list[Callable[[str, SpaceStore], None]] = []
        self.closed = False

    def path(self, space_id: str) -> Path:
        return self.root / space_filename(space_id)

    def exists(self, space_id: str) -> bool:
        return space_id in self._stores or self.path(space_id).exists() or self._legacy(space_id) is not None

    def _legacy(self, space_id: str) -> Path | None:
        old = self.root / legacy_filename(space_id)
        return old if old != self.path(space_id) and old.exists() else None

    @property
    def open_count(self) -> int:
        return len(self._stores)

    def cached(self, space_id: str) -> SpaceStore | None:
        return self._stores.get(space_id)

    @asynccontextmanager
    async def use(self, space_id: str, create: bool = True) -> AsyncIterator[SpaceStore | None]:
        """The space's store, pinned open for the block; None when it does not exist and `create` is False."""
        if self.closed:
            raise RuntimeError("memory service is closed")
        if not create and not self.exists(space_id):
            yield None
            return
        self._pins[space_id] = self._pins.get(space_id, 0) + 1
        try:
            store = await self._get(space_id)
            yield store
        finally:
            self._pins[space_id] -= 1
            if not self._pins[space_id]:
                del self._pins[space_id]
            async with self._changed:
                self._changed.notify_all()

    async def _get(self, space_id: str) -> SpaceStore:
        if space_id in self._stores:
            self._stores.move_to_end(space_id)
            return self._stores[space_id]
        lock = self._opening.setdefault(space_id, asyncio.Lock())
        async with lock:
            if space_id not in self._stores:
                await self._make_room()
                path = self.path(space_id)
                legacy = self._legacy(space_id)
                if legacy is not None and not path.exists():
                    await asyncio.to_thread(_adopt, legacy, path)
                store = await asyncio.to_thread(self._open, path, space_id)
                self._stores[space_id] = store
                for hook in self.on_open:
                    hook(space_id, store)
            self._opening.pop(space_id, None)
        self._stores.move_to_end(space_id)
        return self._stores[space_id]

    async def _make_room(self) -> None:
        async with self._changed:
            while len(self._stores) >= self.max_open:
                victim = next((s for s in self._stores if not self._pins.get(s)), None)
                if victim is None:
                    await self._changed.wait()  # every open space is in use: wait, never exceed
                    continue
                store = self._stores.pop(victim)
                for hook in self.on_close:
                    hook(victim)
                await asyncio.to_thread(store.close)

    async def aclose(self) -> None:
        self.closed = True
        stores, self._stores = self._stores, OrderedDict()
        for space_id, store in stores.items():
            for hook in self.on_close:
                hook(space_id)
            await asyncio.to_thread(store.close)


def _adopt(legacy: Path, path: Path) -> None:
    """Moves a database named by the old (non-injective) scheme to its new name, with its WAL files."""
    for suffix in ("", "-wal", "-shm"):
        old = legacy.with_name(legacy.name + suffix)
        if old.exists():
            old.rename(path.with_name(path.name + suffix))
    logger.info("memory: renamed %s to %s (injective space file names)", legacy.name, path.name)
