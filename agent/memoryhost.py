"""The server's handle on the memory package, opened after start, and the one place run events become memory.

Importing memory pulls in numpy, networkx and usearch (~0.3 s), and the default embedder is a
sentence-transformers model; none of that may delay /health. So memory is imported in a worker thread once
the server is up, runs that need it await it, and events that arrive before it is open are replayed.

`RunEvents` maps the agent's events onto memory's typed `RunEpisode` (memory never parses event names): a
key rename in the event vocabulary is an edit here only.

`background_model=False` (one-shot `agent run`) never loads the embedding model: episodes are written and
keyword-searchable at once, and their vectors are made by the next long-lived process that opens the space.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
from collections import OrderedDict
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

MAX_EARLY_EVENTS = 10_000
MAX_TRACKED_RUNS = 10_000
"""Runs whose session is remembered between their start and their end (a run that ends elsewhere never
says so here)."""
TERMINAL = frozenset({"run.completed", "run.failed", "run.canceled"})


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


class RunEvents:
    """Event → episode fields (a plain dict memory validates as `RunEpisode`); tracks each run's session."""

    def __init__(self, max_runs: int = MAX_TRACKED_RUNS) -> None:
        self._runs: OrderedDict[str, tuple[str | None, str | None]] = OrderedDict()  # run → (session, thread)
        self._max_runs = max_runs

    def episode(self, space_id: str, event: Any) -> dict[str, Any] | None:
        data: dict[str, Any] = event.data if isinstance(event.data, dict) else {}
        if event.type == "run.started":
            self._runs[event.run_id] = (data.get("sessionId"), data.get("threadId"))
            while len(self._runs) > self._max_runs:  # runs that never end here (moved away, abandoned)
                self._runs.popitem(last=False)
        session, thread = self._runs.get(event.run_id, (None, None))
        if event.type in TERMINAL:
            self._runs.pop(event.run_id, None)
        fields: dict[str, Any] = {
            "space_id": space_id,
            "run_id": event.run_id,
            "session_id": session,
            "thread_id": thread,
            "sequence": event.sequence,
            "occurred_at": getattr(event, "ts", None),
        }
        if event.type == "run.started":
            meta = {"agentType": data.get("agentType"), "labels": data.get("labels")}
            fields |= {
                "kind": "user_message",
                "role": "user",
                "text": _text(data.get("input")),
                "metadata": meta,
            }
        elif event.type in ("assistant.message", "run.completed"):
            text = data.get("text") if event.type == "assistant.message" else data.get("output")
            calls = [c.get("name") for c in data.get("toolCalls") or [] if isinstance(c, dict)]
            meta = {"turn": data.get("turn"), "toolCalls": calls}
            fields |= {
                "kind": "assistant_message",
                "role": "assistant",
                "text": _text(text),
                "metadata": meta,
            }
        elif event.type == "tool.result":
            ok = data.get("ok", True)
            error = data.get("error") or None
            text = _text(data.get("output")) if ok else f"error: {_text((error or {}).get('message'))}"
            name = data.get("toolName") or data.get("name")
            meta = {"turn": data.get("turn"), "ok": ok, "error": error, "name": name}
            fields |= {
                "kind": "tool_result",
                "role": "tool",
                "text": text,
                "metadata": meta,
                "tool_call_id": data.get("toolCallId"),
                "speaker": name,
            }
        else:
            return None  # deltas, phases and usage are not memories
        return fields if fields["text"].strip() else None


class MemoryHost:
    def __init__(self, data_dir: Path, embedder: str, *, background_model: bool = True) -> None:
        self.data_dir = data_dir
        self.embedder_kind = embedder
        self.background_model = background_model
        self.service: Any = None
        self.ingestor: Any = None
        self.events = RunEvents()
        self._episode_model: Any = None
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
            self.service = memory.MemoryService(
                self.data_dir, embedder, load_model=self.background_model, wait_for_model=False
            )
            self._episode_model = memory.RunEpisode
            self.ingestor = memory.MemoryIngestor(self.service)
            await self.ingestor.start()
            for space, event in self._early:
                self._submit(space, event)
        except Exception:
            logger.exception("memory could not be opened; runs continue without memory tools")
            self.service = self.ingestor = None
        finally:
            self._early.clear()
            self._ready.set()

    def warm(self) -> None:
        """Loads the embedding model in a worker thread, once, when the first run starts: an idle container
        never pays for torch (and a SIGTERM then never waits for a half-done load)."""
        if (
            self._warming is not None
            or self.service is None
            or self.embedder_kind == "hash"
            or not self.background_model
        ):
            return

        async def load() -> None:
            try:
                await self.service.embedder.load()
                self.service.worker.wake()
            except Exception:
                logger.exception("the embedding model could not be loaded; memory search uses keywords only")

        self._warming = asyncio.create_task(load(), name="memory-warm")

    async def get(self) -> Any:
        """The MemoryService once open (None if it failed to open)."""
        if self._ready is None:
            return None
        await self._ready.wait()
        return self.service

    def _submit(self, space_id: str, event: Any) -> None:
        fields = self.events.episode(space_id, event)
        if fields is None:
            return
        try:
            episode = self._episode_model.model_validate(fields)
        except Exception:  # an event memory cannot record is never a reason to disturb the run
            logger.warning("memory skipped %s of run %s: not a valid episode", event.type, event.run_id)
            return
        self.ingestor.submit(episode)

    def on_event(self, space_id: str, event: Any) -> None:
        if self.ingestor is not None:
            self._submit(space_id, event)
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
        if self._warming is not None and not self._warming.done():
            self._warming.cancel()
        if self.ingestor is not None:
            await self.ingestor.aclose()
        if self.service is not None:
            await self.service.aclose()
