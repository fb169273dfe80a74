"""MemoryIngestor: the hook-bus side. Run events become episodes while the run goes; a run's end is distilled.

`on_event` only enqueues (it runs inside the loop's publish path and must never wait); one background task
drains the queue in batches, so embedding happens per batch and off the event loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from memory._extract import extract as extract_entities
from memory._models import EpisodeIn, FactIn, MemoryWrite
from memory._service import MemoryService

logger = logging.getLogger(__name__)

Extractor = Callable[[str], Awaitable[list[dict[str, Any]]]]
MAX_QUEUE = 100_000
MAX_BATCH = 256
MAX_EPISODE_CHARS = 50_000
MAX_MODEL_CALLS = 2
MODEL_CHUNK_CHARS = 12_000
MAX_ENTITIES_PER_EPISODE = 24
TERMINAL = frozenset({"run.completed", "run.failed", "run.canceled"})
Edge = tuple[str, str, str, str, str, list[str], float | None]


def _text(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    if len(text) > MAX_EPISODE_CHARS:
        text = text[:MAX_EPISODE_CHARS] + f" … [truncated {len(text) - MAX_EPISODE_CHARS} chars]"
    return text


class MemoryIngestor:
    def __init__(self, service: MemoryService, extract: Extractor | None = None) -> None:
        self.service = service
        self.extract = extract
        self.dropped = 0
        self._queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue(MAX_QUEUE)
        self._runs: dict[str, tuple[str | None, str | None]] = {}  # run id -> (session id, thread id)
        self._spaces: dict[str, str] = {}  # run id -> space id, for callers that do not know it
        self._task: asyncio.Task[None] | None = None

    # -- live ingestion ---------------------------------------------------------------------------------------

    def on_event(self, space_id: str | None, event: Any) -> None:
        """Hook-bus subscriber: never blocks, never raises (a full queue drops and counts).

        With `space_id=None` the space comes from the run's `run.started` event (`spaceId`).
        """
        if event.type == "run.started" and isinstance(event.data, dict):
            self._spaces[event.run_id] = str(event.data.get("spaceId") or "default")
        if space_id is None:
            space_id = self._spaces.get(event.run_id, "default")
        if event.type in TERMINAL:
            self._spaces.pop(event.run_id, None)
        try:
            self._queue.put_nowait((space_id, event))
        except asyncio.QueueFull:
            self.dropped += 1
            logger.warning("memory ingestion queue full; dropped %s of run %s", event.type, event.run_id)

    async def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._worker(), name="memory-ingestor")

    async def drain(self) -> None:
        """Returns once everything queued so far is written."""
        await self.start()
        await self._queue.join()

    async def aclose(self) -> None:
        """Writes what is queued, then stops the worker."""
        if not self._queue.empty():
            await self.drain()
        if self._task is not None and not self._task.done():
            await self._queue.join()
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        self._task = None

    async def _worker(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._write(batch)
            except Exception:
                logger.exception("memory ingestion failed for a batch of %d events", len(batch))
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _write(self, batch: list[tuple[str, Any]]) -> None:
        by_space: dict[str, list[EpisodeIn]] = {}
        for space_id, event in batch:
            episode = self.episode(event)
            if episode is not None:
                by_space.setdefault(space_id, []).append(episode)
        for space_id, episodes in by_space.items():
            await self.service.write_episodes(space_id, episodes)

    def episode(self, event: Any) -> EpisodeIn | None:
        """The episode an event records, or None (deltas, phases and usage are not memories)."""
        data: dict[str, Any] = event.data if isinstance(event.data, dict) else {}
        if event.type == "run.started":
            self._runs[event.run_id] = (data.get("sessionId"), data.get("threadId"))
        session, thread = self._runs.get(event.run_id, (None, None))
        common: dict[str, Any] = {
            "run_id": event.run_id,
            "session_id": session,
            "thread_id": thread,
            "sequence": event.sequence,
            "occurred_at": event.ts,
        }
        if event.type == "run.started":
            text = _text(data.get("input"))
            meta = {"agentType": data.get("agentType"), "labels": data.get("labels")}
            kind, role, extra = "user_message", "user", {"metadata": meta}
        elif event.type in ("assistant.message", "run.completed"):
            text = _text(data.get("text") if event.type == "assistant.message" else data.get("output"))
            calls = [c.get("name") for c in data.get("toolCalls") or [] if isinstance(c, dict)]
            kind, role, extra = (
                "assistant_message",
                "assistant",
                {"metadata": {"turn": data.get("turn"), "toolCalls": calls}},
            )
        elif event.type == "tool.result":
            error = data.get("error") or None
            text = (
                _text(data.get("output"))
                if data.get("ok", True)
                else f"error: {_text((error or {}).get('message'))}"
            )
            meta = {
                "turn": data.get("turn"),
                "ok": data.get("ok", True),
                "error": error,
                "name": data.get("toolName"),
            }
            kind, role = "tool_result", "tool"
            extra = {
                "metadata": meta,
                "tool_call_id": data.get("toolCallId"),
                "speaker": data.get("toolName"),
            }
        else:
            if event.type in ("run.failed", "run.canceled"):
                self._runs.pop(event.run_id, None)
            return None
        if event.type == "run.completed":
            self._runs.pop(event.run_id, None)
        if not text.strip():
            return None
        return EpisodeIn(text=text, kind=kind, role=role, **common, **extra)

    # -- distillation ----------------------------------------------------------------------------------------

    async def distill_run(self, space_id: str, run_id: str) -> dict[str, Any]:
        """Per-run summary fact plus entities and edges; ≤ 2 model calls when an extractor is configured."""
        await self.drain()
        rows = await self.service.run_episodes(space_id, run_id)
        if not rows:
            return {"facts": [], "edges": []}
        edges = await self._graph(space_id, rows, anchor=f"run {run_id}")
        refs = [f"ep:{r['id']}" for r in rows]
        first_user = next((r["text"] for r in rows if r["kind"] == "user_message"), "")
        last_answer = next((r["text"] for r in reversed(rows) if r["kind"] == "assistant_message"), "")
        tools = sorted({r["speaker"] for r in rows if r["kind"] == "tool_result" and r["speaker"]})
        summary = f"Run {run_id}: asked {first_user[:300]!r}"
        if tools:
            summary += f"; tools used: {', '.join(tools)}"
        if last_answer:
            summary += f"; answered {last_answer[:300]!r}"
        session = rows[0]["session_id"]
        facts = [
            FactIn(
                text=summary,
                confidence=1.0,
                episode_ids=refs,
                run_id=run_id,
                session_id=session,
                valid_from=rows[0]["occurred_at"],
                metadata={"source": "summary"},
            )
        ]
        facts.extend(await self._model_facts(rows, refs, run_id, session))
        written = await self.service.write(space_id, MemoryWrite(facts=facts))
        return {"facts": written.fact_ids, "edges": edges + written.edge_ids}

    async def distill_space(self, space_id: str, session_id: str | None = None) -> list[str]:
        """Entities and edges for episodes written directly (imports, `memory.write`), session by session."""
        store = await self.service.store(space_id)
        where, params = ("WHERE session_id = ?", [session_id]) if session_id else ("", [])
        rows = await asyncio.to_thread(
            store.rows,
            f"SELECT id, kind, role, speaker, text, metadata, session_id, occurred_at FROM episodes {where} ORDER BY id",
            params,
        )
        by_session: dict[str | None, list[dict[str, Any]]] = {}
        for row in rows:
            by_session.setdefault(row["session_id"], []).append(row)
        out: list[str] = []
        for session, group in by_session.items():
            out.extend(await self._graph(space_id, group, anchor=f"session {session}" if session else None))
        return out

    async def _graph(self, space_id: str, rows: list[dict[str, Any]], anchor: str | None) -> list[str]:
        mentions: list[tuple[int, str, str]] = []
        edges: list[Edge] = []
        for row in rows:
            ref = [f"ep:{row['id']}"]
            tool = row["speaker"] if row["kind"] == "tool_result" else None
            actor = None if tool else (row["speaker"] or row["role"])
            found = extract_entities(row["text"], speaker=None if tool else row["speaker"], tool=tool)
            at = row["occurred_at"]
            for name, kind in found.entities[:MAX_ENTITIES_PER_EPISODE]:
                mentions.append((row["id"], name, kind))
                if actor and name != actor:
                    edges.append((actor, "person", "mentions", name, kind, ref, at))
            if anchor and actor:
                edges.append((anchor, "context", "participant", actor, "person", ref, at))
            if anchor and tool:
                edges.append((anchor, "context", "used_tool", tool, "tool", ref, at))
        if not mentions and not edges:
            return []
        return await self.service.add_graph(space_id, mentions, edges)

    async def _model_facts(
        self, rows: list[dict[str, Any]], refs: list[str], run_id: str, session: str | None
    ) -> list[FactIn]:
        if self.extract is None:
            return []
        transcript = "\n".join(f"{r['speaker'] or r['role'] or r['kind']}: {r['text']}" for r in rows)
        chunks = [transcript[i : i + MODEL_CHUNK_CHARS] for i in range(0, len(transcript), MODEL_CHUNK_CHARS)]
        facts: list[FactIn] = []
        for chunk in chunks[:MAX_MODEL_CALLS]:
            try:
                items = await self.extract(chunk)
            except Exception:
                logger.warning("model-based memory extraction failed for run %s", run_id, exc_info=True)
                continue
            for item in items or []:
                try:
                    fact = FactIn.model_validate(
                        {
                            "confidence": 0.7,
                            **item,
                            "episode_ids": refs,
                            "run_id": run_id,
                            "session_id": session,
                        }
                    )
                except Exception:
                    logger.info("skipped a malformed extracted fact in run %s", run_id)
                    continue
                facts.append(fact)
        return facts
