"""One space's SQLite database: episodes and facts, their vectors, and (via GraphWrites) the graph.

All methods are synchronous and run in a worker thread (MemoryService calls them through
`asyncio.to_thread`); one lock per space serialises them, so several runs writing to one space at once
lose nothing, and WAL lets other processes (the CLI) read while the server writes.

A row is written without its vector: it is durable and keyword-searchable at once, and `embedding IS NULL`
is the embedding worker's queue (memory/_embedworker.py), which survives a restart by construction. The
database records its space id and the embedder of its vectors; opened with another embedder, every vector is
dropped and re-embedded, so two models' vectors never meet in one index.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from control_bridge import sqlite
from memory._bm25 import KeywordReader
from memory._edges import GraphWrites
from memory._embedder import EmbedderId
from memory._index import EPISODE, FACT, Meta, VectorIndex
from memory._models import EpisodeIn, FactIn
from memory._schema import migrate
from memory._text import ids, indexed_text, norm, parse_id, text_hash

__all__ = ["SpaceMismatch", "SpaceStore", "caller_key", "episode_key", "indexed_text", "norm", "parse_id"]

logger = logging.getLogger(__name__)
PendingRow = tuple[int, int, str]  # item type, rowid, text to embed
ANN_SLICE = 64


class SpaceMismatch(ValueError):
    """The file belongs to another space id (never serve one tenant's memory to another)."""


def episode_key(item: EpisodeIn) -> str:
    """The same statement in the same run (or, without a run, the same session) is stored once."""
    if item.key:
        return f"k:{item.key}"
    scope = f"r:{item.run_id}" if item.run_id else f"s:{item.session_id}"
    return f"{scope}:{text_hash(item.kind, norm(item.text), item.tool_call_id)}"


def caller_key(dedup_key: str | None) -> str | None:
    """The `key` the caller gave (see episode_key), or None for a derived dedup key."""
    return dedup_key[2:] if dedup_key and dedup_key.startswith("k:") else None


TEXT_FORMAT = "turn+prev1"
"""What a vector encodes, recorded beside the embedder: changing it re-embeds a space like a new model."""
CONTEXT_CHARS = 200


def embedded_text(speaker: str | None, text: str, prev_speaker: str | None, prev_text: str | None) -> str:
    """A turn with the start of the turn it answers: "Yes, last week!" carries no topic on its own, the
    question before it does. Keyword search indexes the turn alone."""
    own = indexed_text(speaker, text)
    if not prev_text:
        return own
    return f"{own}\n(in reply to {indexed_text(prev_speaker, prev_text[:CONTEXT_CHARS])})"


def blob(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


class SpaceStore(GraphWrites):
    def __init__(self, path: Path, embedder: EmbedderId, space_id: str | None = None) -> None:
        self.path = path
        self.space_id = space_id
        self.embedder = embedder
        self.lock = threading.RLock()
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite.connect(path, busy_timeout_s=30, foreign_keys=True)
        self.conn = conn
        try:
            self.version = 0  # bumped on every write: caches (the graph) compare it
            self.migrated_from = migrate(conn)
            self.reembedding = self._check_meta(space_id)
            self.index = VectorIndex(embedder.dim, path.with_suffix(".usearch"), self.stored_vectors)
            self._speakers: set[str] | None = None
            self._reader: KeywordReader | None = None
            self._reader_opening = threading.Lock()
            self._load_index()
        except BaseException:
            conn.close()
            raise

    def keywords(self) -> KeywordReader:
        """Keyword search's read-only connection, opened on first use (memory/_bm25.py)."""
        if self._reader is None:
            with self._reader_opening:
                if self._reader is None:
                    self._reader = KeywordReader(self.path)
        return self._reader

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
        with self.lock:
            try:
                self.index.ann.save()
            except Exception:  # a cache: the next open rebuilds what is missing
                logger.warning("could not save the memory index of %s", self.path.name, exc_info=True)
            self.conn.close()

    def save_index(self) -> None:
        with self.lock:
            self.index.ann.save()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction under the space's lock; rolled back whole on any error."""
        with self.lock:
            with sqlite.transaction(self.conn):
                yield self.conn
            self.version += 1

    # -- identity -------------------------------------------------------------------------------------------

    def _meta(self) -> dict[str, str]:
        return dict(self.conn.execute("SELECT key, value FROM meta").fetchall())

    def _check_meta(self, space_id: str | None) -> bool:
        """Records the space and embedder; True when the stored vectors came from another embedder."""
        meta = self._meta()
        if space_id is not None and meta.get("space_id", space_id) != space_id:
            raise SpaceMismatch(f"{self.path.name} belongs to space {meta['space_id']!r}, not {space_id!r}")
        wanted = {
            "embedder_name": self.embedder.name,
            "embedder_dim": str(self.embedder.dim),
            "embedder_version": f"{self.embedder.version}/{TEXT_FORMAT}",
        }
        stale = any(meta.get(k) != v for k, v in wanted.items())
        with self.transaction():
            if space_id is not None and "space_id" not in meta:
                self.conn.execute("INSERT INTO meta (key, value) VALUES ('space_id', ?)", (space_id,))
            if stale:
                cleared = self.conn.execute(
                    "UPDATE episodes SET embedding = NULL WHERE embedding IS NOT NULL"
                )
                cleared_facts = self.conn.execute(
                    "UPDATE facts SET embedding = NULL WHERE embedding IS NOT NULL"
                )
                if cleared.rowcount or cleared_facts.rowcount:
                    logger.info(
                        "memory %s: vectors by %s, configured %s; re-embedding %d rows in the background",
                        self.path.name,
                        meta.get("embedder_name", "an unrecorded embedder"),
                        self.embedder.name,
                        cleared.rowcount + cleared_facts.rowcount,
                    )
                self.conn.executemany(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", wanted.items()
                )
        if stale:
            self.path.with_suffix(".usearch").unlink(missing_ok=True)
        return stale

    def _load_index(self) -> None:
        """Filter columns from SQLite; the graph from its file, repaired or rebuilt to match SQLite."""
        loaded = self.index.ann.load()
        wanted: list[np.ndarray] = []
        for item_type, query in (
            (
                EPISODE,
                "SELECT id, kind, session_id, thread_id, run_id, occurred_at FROM episodes"
                " WHERE embedding IS NOT NULL",
            ),
            (
                FACT,
                "SELECT id, 'fact', session_id, NULL, run_id, occurred_at FROM facts WHERE embedding IS NOT NULL",
            ),
        ):
            rows = self.conn.execute(query).fetchall()
            rowids = [r[0] for r in rows]
            self.index.track(item_type, rowids, [r[1:] for r in rows])
            ids_array = np.asarray(rowids, dtype=np.uint64)
            wanted.append(ids_array * np.uint64(2) + np.uint64(item_type))
        keys = np.concatenate(wanted) if wanted else np.zeros(0, dtype=np.uint64)
        missing = keys[~self.index.ann.contains(keys)] if loaded else keys
        if loaded:
            extra = np.setdiff1d(self.index.ann.keys(), keys)
            self.index.ann.remove(extra)
        if len(missing):
            if loaded:
                logger.info(
                    "memory %s: adding %d vectors the saved index lacks", self.path.name, len(missing)
                )
            self._add_from_sqlite(missing)
            self.index.ann.save()

    def stored_vectors(self, keys: np.ndarray) -> np.ndarray:
        """The exact vectors of packed keys, in their order (zeros for a row without one): the graph's
        candidates are re-scored with these."""
        out = np.zeros((len(keys), self.embedder.dim), dtype=np.float32)
        where = {int(k): i for i, k in enumerate(keys.tolist())}
        with self.lock:
            for item_type, table in ((EPISODE, "episodes"), (FACT, "facts")):
                rowids = [k >> 1 for k in where if k & 1 == item_type]
                for start in range(0, len(rowids), 900):
                    chunk = rowids[start : start + 900]
                    marks = ",".join("?" * len(chunk))
                    query = (
                        f"SELECT id, embedding FROM {table} WHERE id IN ({marks}) AND embedding IS NOT NULL"
                    )
                    for rowid, emb in self.conn.execute(query, chunk):
                        out[where[rowid * 2 + item_type]] = np.frombuffer(emb, dtype=np.float32)
        return out

    def _add_from_sqlite(self, keys: np.ndarray) -> None:
        for item_type, table in ((EPISODE, "episodes"), (FACT, "facts")):
            rowids = (keys[(keys & np.uint64(1)) == item_type] >> np.uint64(1)).astype(np.int64)
            for start in range(0, len(rowids), 20_000):
                chunk = rowids[start : start + 20_000].tolist()
                lo, hi = min(chunk), max(chunk)
                wanted = set(chunk)
                got = [
                    (rowid, emb)
                    for rowid, emb in self.conn.execute(
                        f"SELECT id, embedding FROM {table} WHERE id BETWEEN ? AND ? AND embedding IS NOT NULL",
                        (lo, hi),
                    )
                    if rowid in wanted
                ]
                if got:
                    vectors = np.frombuffer(b"".join(e for _, e in got), dtype=np.float32)
                    packed = np.asarray([r for r, _ in got], dtype=np.uint64) * np.uint64(2) + np.uint64(
                        item_type
                    )
                    self.index.ann.add(packed, vectors.reshape(len(got), -1))

    # -- writes ---------------------------------------------------------------------------------------------

    def insert_episodes(self, items: list[EpisodeIn]) -> tuple[list[str], int]:
        """Returns every item's id (existing ones for duplicates) and the number of duplicates."""
        now = time.time()
        out: list[int] = []
        duplicates = 0
        with self.transaction():
            for item in items:
                key = episode_key(item)
                prev = None
                if item.session_id is not None:
                    row = self.conn.execute(
                        "SELECT MAX(id) FROM episodes WHERE session_id=?", (item.session_id,)
                    ).fetchone()
                    prev = row[0]
                cursor = self.conn.execute(
                    "INSERT OR IGNORE INTO episodes (run_id, session_id, thread_id, tool_call_id, kind, role,"
                    " speaker, sequence, text, metadata, occurred_at, recorded_at, dedup_key, prev_id)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        item.run_id,
                        item.session_id,
                        item.thread_id,
                        item.tool_call_id,
                        item.kind,
                        item.role,
                        item.speaker,
                        item.sequence,
                        item.text,
                        json.dumps(item.metadata, default=str),
                        item.occurred_at if item.occurred_at is not None else now,
                        now,
                        key,
                        prev,
                    ),
                )
                if cursor.rowcount == 0:
                    duplicates += 1
                    found = self.conn.execute("SELECT id FROM episodes WHERE dedup_key=?", (key,)).fetchone()
                    out.append(found[0])
                    continue
                rowid = int(cursor.lastrowid or 0)
                out.append(rowid)
                if item.speaker and self._speakers is not None:
                    self._speakers.add(item.speaker)
                self.conn.execute(
                    "INSERT INTO episodes_fts (rowid, text) VALUES (?, ?)",
                    (rowid, indexed_text(item.speaker, item.text)),
                )
        return ids("ep", out), duplicates

    def insert_facts(self, facts: list[FactIn]) -> tuple[list[str], list[str], int]:
        now = time.time()
        fact_ids: list[int] = []
        edge_ids: list[int] = []
        duplicates = 0
        with self.transaction():
            for fact in facts:
                digest = text_hash(norm(fact.text))
                episodes = [e for e in fact.episode_ids if e.startswith("ep:")]
                occurred = fact.valid_from if fact.valid_from is not None else now
                cursor = self.conn.execute(
                    "INSERT OR IGNORE INTO facts (text, confidence, episode_ids, recorded_at, text_hash,"
                    " run_id, session_id, kind, occurred_at, metadata) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (
                        fact.text,
                        fact.confidence,
                        json.dumps(episodes),
                        now,
                        digest,
                        fact.run_id,
                        fact.session_id,
                        "fact",
                        occurred,
                        json.dumps(fact.metadata, default=str),
                    ),
                )
                if cursor.rowcount == 0:
                    duplicates += 1
                    row = self.conn.execute("SELECT id FROM facts WHERE text_hash=?", (digest,)).fetchone()
                    fact_ids.append(row[0])
                    continue
                rowid = int(cursor.lastrowid or 0)
                fact_ids.append(rowid)
                self.conn.execute("INSERT INTO facts_fts (rowid, text) VALUES (?, ?)", (rowid, fact.text))
                if fact.subject and fact.predicate and fact.object:
                    edge_ids.append(
                        self._edge(
                            fact.subject,
                            "entity",
                            fact.predicate,
                            fact.object,
                            "entity",
                            episodes,
                            valid_from=occurred,
                            valid_to=fact.valid_to,
                            exclusive=fact.exclusive,
                            fact_id=rowid,
                            weight=fact.confidence,
                            now=now,
                        )
                    )
        return ids("fact", fact_ids), ids("edge", edge_ids), duplicates

    # -- vectors --------------------------------------------------------------------------------------------

    def unembedded(self, limit: int, after_episode: int = 0, after_fact: int = 0) -> list[PendingRow]:
        """The oldest rows still without a vector past the given ids (episodes first: search returns them)."""
        with self.lock:
            rows: list[PendingRow] = [
                (EPISODE, r, embedded_text(s, t, ps, pt))
                for r, s, t, ps, pt in self.conn.execute(
                    "SELECT e.id, e.speaker, e.text, p.speaker, p.text FROM episodes e"
                    " LEFT JOIN episodes p ON p.id = e.prev_id"
                    " WHERE e.embedding IS NULL AND e.id > ? ORDER BY e.id LIMIT ?",
                    (after_episode, limit),
                )
            ]
            if len(rows) < limit:
                rows += [
                    (FACT, r, t)
                    for r, t in self.conn.execute(
                        "SELECT id, text FROM facts WHERE embedding IS NULL AND id > ? ORDER BY id LIMIT ?",
                        (after_fact, limit - len(rows)),
                    )
                ]
            return rows

    def pending(self) -> int:
        with self.lock:
            a = self.conn.execute("SELECT COUNT(*) FROM episodes WHERE embedding IS NULL").fetchone()[0]
            b = self.conn.execute("SELECT COUNT(*) FROM facts WHERE embedding IS NULL").fetchone()[0]
            return int(a + b)

    def set_vectors(self, rows: list[PendingRow], vectors: np.ndarray, embedder: EmbedderId) -> int:
        """Stores vectors for rows still without one (a concurrent writer's vector wins); returns how many."""
        if embedder != self.embedder:
            return 0  # computed by a model this space no longer uses
        written: dict[int, list[tuple[int, np.ndarray]]] = {EPISODE: [], FACT: []}
        with self.transaction():
            for (item_type, rowid, _), vector in zip(rows, vectors, strict=True):
                table = "episodes" if item_type == EPISODE else "facts"
                cursor = self.conn.execute(
                    f"UPDATE {table} SET embedding=? WHERE id=? AND embedding IS NULL", (blob(vector), rowid)
                )
                if cursor.rowcount:
                    written[item_type].append((rowid, vector))
            for item_type, items in written.items():
                if items:
                    self.index.track(
                        item_type, [r for r, _ in items], self._meta_rows(item_type, [r for r, _ in items])
                    )
        # The graph is added to outside the transaction, a slice at a time: writers never wait for it, and a
        # search waits at most one slice.
        for item_type, items in written.items():
            step = ANN_SLICE if len(items) <= 1024 else 4096  # a bulk build has no searches to keep fast
            for start in range(0, len(items), step):
                part = items[start : start + step]
                keys = np.asarray([r for r, _ in part], dtype=np.uint64) * np.uint64(2) + np.uint64(item_type)
                with self.lock:
                    self.index.ann.add(keys, np.asarray([v for _, v in part], dtype=np.float32))
        return sum(len(v) for v in written.values())

    def _meta_rows(self, item_type: int, rowids: list[int]) -> list[Meta]:
        marks = ",".join("?" * len(rowids))
        if item_type == EPISODE:
            query = f"SELECT id, kind, session_id, thread_id, run_id, occurred_at FROM episodes WHERE id IN ({marks})"
        else:
            query = (
                f"SELECT id, 'fact', session_id, NULL, run_id, occurred_at FROM facts WHERE id IN ({marks})"
            )
        found = {r[0]: r[1:] for r in self.conn.execute(query, rowids)}
        return [found[r] for r in rowids]

    # -- reads ----------------------------------------------------------------------------------------------

    def existing_keys(self, keys: list[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        with self.lock:
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                marks = ",".join("?" * len(chunk))
                query = f"SELECT dedup_key, id FROM episodes WHERE dedup_key IN ({marks})"
                found.update(dict(self.conn.execute(query, chunk).fetchall()))
        return found

    def speakers(self) -> set[str]:
        """Distinct speakers: read once, then kept current by inserts."""
        with self.lock:
            if self._speakers is None:
                rows = self.conn.execute("SELECT DISTINCT speaker FROM episodes WHERE speaker IS NOT NULL")
                self._speakers = {r[0] for r in rows}
            return self._speakers

    def rows(self, query: str, params: Iterable[object] = ()) -> list[dict[str, Any]]:
        with self.lock:
            cursor = self.conn.execute(query, tuple(params))
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
