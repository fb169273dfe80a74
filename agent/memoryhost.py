"""The server's handle on the memory package, opened after start.

Importing memory pulls in numpy, networkx and sqlite-utils (~0.3 s), and the default embedder is a
sentence-transformers model; none of that may delay /health. So memory is imported in a worker thread once
the server is up, runs that need it await it, and events that arrive before it is open are replayed.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

MAX_EARLY_EVENTS = 10_000


class MemoryHost:
    def __init__(self, data_dir: Path, embedder: str) -> None:
        self.data_dir = data_dir
        self.embedder_kind = embedder
        self.service: Any = None
        self.ingestor: Any = None
        self._ready: asyncio.Event | None = None
        self._early: list[tuple[str, Any]] = []
        self._task: asyncio.Task[None] | None = None
        self._warming: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._ready = asyncio.Event()
        self._task = asyncio.create_task(self._open(), name="memory-open")

    async def _open(self) -> None:
        assert self._ready is not None
        try:
            memory = await asyncio.to_thread(importlib.import_module, "memory")
            embedder = memory.HashEmbedder() if self.embedder_kind == "hash" else memory.MiniLMEmbedder()
            self.service = memory.MemoryService(self.data_dir, embedder)
            self.ingestor = memory.MemoryIngestor(self.service)
            await self.ingestor.start()
            for space, event in self._early:
                self.ingestor.on_event(space, event)
        except Exception:
            logger.exception("memory could not be opened; runs continue without memory tools")
            self.service = self.ingestor = None
        finally:
            self._early.clear()
            self._ready.set()

    def warm(self) -> None:
        """Loads the embedding model in a worker thread, once, when the first run starts: an idle container
        never pays for torch (and a SIGTERM then never waits for a half-done load)."""
        if self._warming is not None or self.service is None or self.embedder_kind == "hash":
            return

        async def load() -> None:
            try:
                await self.service.embedder.load()
            except Exception:
                logger.exception("the embedding model could not be loaded; memory search uses keywords only")

        self._warming = asyncio.create_task(load(), name="memory-warm")

    async def get(self) -> Any:
        """The MemoryService once open (None if it failed to open)."""
        if self._ready is None:
            return None
        await self._ready.wait()
        return self.service

    def on_event(self, space_id: str, event: Any) -> None:
        if self.ingestor is not None:
            self.ingestor.on_event(space_id, event)
        elif self._ready is not None and not self._ready.is_set() and len(self._early) < MAX_EARLY_EVENTS:
            self._early.append((space_id, event))

    async def distill(self, space_id: str, run_id: str) -> None:
        if await self.get() is None or self.ingestor is None:
            return
        await self.ingestor.drain()
        await self.ingestor.distill_run(space_id, run_id)

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self.ingestor is not None:
            await self.ingestor.aclose()
        if self.service is not None:
            await self.service.aclose()
