"""MemoryIngestor: typed run episodes become stored episodes while the run goes; a run's end is distilled.

The agent maps its events onto `RunEpisode` (agent/memoryhost.py); memory knows no event names. `submit`
only enqueues (it runs inside the loop's publish path and must never wait); one background task writes the
queue in batches, and the embedding worker gives the rows vectors afterwards.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from memory._extract import extract as extract_entities
from memory._models import EpisodeIn, FactIn, MemoryWrite, RunEpisode
from memory._service import MemoryService

logger = logging.getLogger(__name__)

Extractor = Callable[[str], Awaitable[list[dict[str, Any]]]]
MAX_QUEUE = 100_000
MAX_BATCH = 256
MAX_EPISODE_CHARS = 50_000
MAX_MODEL_CALLS = 2
MODEL_CHUNK_CHARS = 12_000
MAX_ENTITIES_PER_EPISODE = 24
Edge = tuple[str, str, str, str, str, list[str], float | None]


def clip(text: str) -> str:
    if len(text) > MAX_EPISODE_CHARS:
        text = text[:MAX_EPISODE_CHARS] + f" … [truncated {len(text) - MAX_EPISODE_CHARS} chars]"
    return text


class MemoryIngestor:
    def __init__(self, service: MemoryService, extract: Extractor | None = None) -> None:
        self.service = service
        self.extract = extract
        self.dropped = 0
        self._queue: asyncio.Queue[RunEpisode] = asyncio.Queue(MAX_QUEUE)
        self._task: asyncio.Task[None] | None = None

    # -- live ingestion ---------------------------------------------------------------------------------------

    def submit(self, episode: RunEpisode) -> None:
        """Never blocks, never raises (a full queue drops and counts): called from the loop's publish path."""
        if not episode.text.strip():
            return
        if len(episode.text) > MAX_EPISODE_CHARS:
            episode = episode.model_copy(update={"text": clip(episode.text)})
        try:
            self._queue.put_nowait(episode)
        except asyncio.QueueFull:
            self.dropped += 1
            logger.warning(
                "memory ingestion queue full; dropped a %s of run %s", episode.kind, episode.run_id
            )

    async def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._worker(), name="memory-ingestor")

    async def drain(self) -> None:
        """Returns once everything queued so far is written (durable; vectors follow)."""
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
                logger.exception("memory ingestion failed for a batch of %d episodes", len(batch))
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _write(self, batch: list[RunEpisode]) -> None:
        by_space: dict[str, list[EpisodeIn]] = {}
        for episode in batch:
            by_space.setdefault(episode.space_id, []).append(
                EpisodeIn.model_validate(episode.model_dump(exclude={"space_id"}))
            )
        for space_id, episodes in by_space.items():
            await self.service.write_episodes(space_id, episodes)

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
        where, params = ("WHERE session_id = ?", [session_id]) if session_id else ("", [])
        rows = await self.service.rows(
            space_id,
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
