"""One space's SQLite database: writes of episodes, facts, entities and bi-temporal edges.

All methods are synchronous and run in a worker thread (MemoryService calls them through
`asyncio.to_thread`); one lock per space serialises them, so several runs writing to one space at once
lose nothing, and WAL lets other processes (the CLI) read while the server writes.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import threading
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import sqlite_utils

from memory._index import EPISODE, FACT, VectorIndex
from memory._models import EpisodeIn, FactIn
from memory._schema import migrate

_SPACES = re.compile(r"\s+")


def norm(text: str) -> str:
    return _SPACES.sub(" ", text.strip().lower())


def text_hash(*parts: str | None) -> str:
    return hashlib.sha1("\x1f".join(p or "" for p in parts).encode()).hexdigest()


def episode_key(item: EpisodeIn) -> str:
    """The same statement in the same run (or, without a run, the same session) is stored once."""
    if item.key:
        return f"k:{item.key}"
    scope = f"r:{item.run_id}" if item.run_id else f"s:{item.session_id}"
    return f"{scope}:{text_hash(item.kind, norm(item.text), item.tool_call_id)}"


def caller_key(dedup_key: str | None) -> str | None:
    """The `key` the caller gave (see episode_key), or None for a derived dedup key."""
    return dedup_key[2:] if dedup_key and dedup_key.startswith("k:") else None


def indexed_text(speaker: str | None, text: str) -> str:
    return f"{speaker}: {text}" if speaker else text


def blob(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


def ids(prefix: str, rowids: Iterable[int]) -> list[str]:
    return [f"{prefix}:{r}" for r in rowids]


def parse_id(value: str) -> tuple[str, int]:
    prefix, _, number = value.partition(":")
    if prefix not in ("ep", "fact", "edge", "ent") or not number.isdigit():
        raise ValueError(f"not a memory id: {value[:80]!r} (expected ep:N, fact:N, edge:N or ent:N)")
    return prefix, int(number)


class SpaceStore:
    def __init__(self, path: Path, dim: int) -> None:
        self.path = path
        self.lock = threading.RLock()
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self.db = sqlite_utils.Database(conn)
        self.conn = conn
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        self.migrated_from = migrate(conn)
        self.index = VectorIndex(dim)
        self.version = 0  # bumped on every write: caches (the graph) compare it
        self._speakers: set[str] | None = None
        self._load_index()

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    def _load_index(self) -> None:
        query = "SELECT id, embedding, kind, session_id, thread_id, run_id, occurred_at FROM episodes"
        for rowid, emb, kind, session, thread, run, occurred in self.conn.execute(query):
            if emb is not None:
                vector = np.frombuffer(emb, dtype=np.float32)
                self.index.add(
                    EPISODE,
                    rowid,
                    vector,
                    kind=kind,
                    session=session,
                    thread=thread,
                    run=run,
                    occurred=occurred,
                )
        query = "SELECT id, embedding, session_id, run_id, occurred_at FROM facts"
        for rowid, emb, session, run, occurred in self.conn.execute(query):
            if emb is not None:
                vector = np.frombuffer(emb, dtype=np.float32)
                self.index.add(
                    FACT, rowid, vector, kind="fact", session=session, thread=None, run=run, occurred=occurred
                )

    # -- writes ---------------------------------------------------------------------------------------------

    def existing_keys(self, keys: list[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        with self.lock:
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                marks = ",".join("?" * len(chunk))
                query = f"SELECT dedup_key, id FROM episodes WHERE dedup_key IN ({marks})"
                found.update(dict(self.conn.execute(query, chunk).fetchall()))
        return found

    def insert_episodes(self, items: list[EpisodeIn], vectors: np.ndarray | None) -> tuple[list[str], int]:
        """Returns every item's id (existing ones for duplicates) and the number of duplicates."""
        now = time.time()
        out: list[int] = []
        duplicates = 0
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                for i, item in enumerate(items):
                    key = episode_key(item)
                    vector = None if vectors is None else vectors[i]
                    prev = None
                    if item.session_id is not None:
                        row = self.conn.execute(
                            "SELECT MAX(id) FROM episodes WHERE session_id=?", (item.session_id,)
                        ).fetchone()
                        prev = row[0]
                    cursor = self.conn.execute(
                        "INSERT OR IGNORE INTO episodes (run_id, session_id, thread_id, tool_call_id, kind, role,"
                        " speaker, sequence, text, metadata, occurred_at, recorded_at, dedup_key, embedding, prev_id)"
                        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
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
                            None if vector is None else blob(vector),
                            prev,
                        ),
                    )
                    if cursor.rowcount == 0:
                        duplicates += 1
                        out.append(
                            self.conn.execute("SELECT id FROM episodes WHERE dedup_key=?", (key,)).fetchone()[
                                0
                            ]
                        )
                        continue
                    rowid = int(cursor.lastrowid or 0)
                    out.append(rowid)
                    if item.speaker and self._speakers is not None:
                        self._speakers.add(item.speaker)
                    self.conn.execute(
                        "INSERT INTO episodes_fts (rowid, text) VALUES (?, ?)",
                        (rowid, indexed_text(item.speaker, item.text)),
                    )
                    if vector is not None:
                        self.index.add(
                            EPISODE,
                            rowid,
                            vector,
                            kind=item.kind,
                            session=item.session_id,
                            thread=item.thread_id,
                            run=item.run_id,
                            occurred=item.occurred_at if item.occurred_at is not None else now,
                        )
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.version += 1
        return ids("ep", out), duplicates

    def known_facts(self, facts: list[FactIn]) -> set[str]:
        hashes = [text_hash(norm(f.text)) for f in facts]
        with self.lock:
            marks = ",".join("?" * len(hashes))
            rows = self.conn.execute(f"SELECT text_hash FROM facts WHERE text_hash IN ({marks})", hashes)
            return {r[0] for r in rows}

    def insert_facts(
        self, facts: list[FactIn], vectors: np.ndarray | None
    ) -> tuple[list[str], list[str], int]:
        now = time.time()
        fact_ids: list[int] = []
        edge_ids: list[int] = []
        duplicates = 0
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                for i, fact in enumerate(facts):
                    digest = text_hash(norm(fact.text))
                    episodes = [e for e in fact.episode_ids if e.startswith("ep:")]
                    occurred = fact.valid_from if fact.valid_from is not None else now
                    vector = None if vectors is None else vectors[i]
                    cursor = self.conn.execute(
                        "INSERT OR IGNORE INTO facts (text, confidence, episode_ids, recorded_at, text_hash, embedding,"
                        " run_id, session_id, kind, occurred_at, metadata) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                        (
                            fact.text,
                            fact.confidence,
                            json.dumps(episodes),
                            now,
                            digest,
                            None if vector is None else blob(vector),
                            fact.run_id,
                            fact.session_id,
                            "fact",
                            occurred,
                            json.dumps(fact.metadata, default=str),
                        ),
                    )
                    if cursor.rowcount == 0:
                        duplicates += 1
                        row = self.conn.execute(
                            "SELECT id FROM facts WHERE text_hash=?", (digest,)
                        ).fetchone()
                        fact_ids.append(row[0])
                        continue
                    rowid = int(cursor.lastrowid or 0)
                    fact_ids.append(rowid)
                    self.conn.execute("INSERT INTO facts_fts (rowid, text) VALUES (?, ?)", (rowid, fact.text))
                    if vector is not None:
                        self.index.add(
                            FACT,
                            rowid,
                            vector,
                            kind="fact",
                            session=fact.session_id,
                            thread=None,
                            run=fact.run_id,
                            occurred=occurred,
                        )
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
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.version += 1
        return ids("fact", fact_ids), ids("edge", edge_ids), duplicates

    def entity(self, name: str, kind: str, seen: float | None, now: float) -> int:
        key = norm(name)
        row = self.conn.execute("SELECT id FROM entities WHERE norm=?", (key,)).fetchone()
        if row:
            if seen is not None:
                self.conn.execute(
                    "UPDATE entities SET first_seen=MIN(COALESCE(first_seen, ?), ?),"
                    " last_seen=MAX(COALESCE(last_seen, ?), ?) WHERE id=?",
                    (seen, seen, seen, seen, row[0]),
                )
            return int(row[0])
        cursor = self.conn.execute(
            "INSERT INTO entities (name, norm, type, first_seen, last_seen, recorded_at) VALUES (?,?,?,?,?,?)",
            (name.strip()[:200], key, kind, seen, seen, now),
        )
        return int(cursor.lastrowid or 0)

    def _edge(
        self,
        subject: str,
        subject_type: str,
        predicate: str,
        obj: str,
        object_type: str,
        episode_ids: list[str],
        *,
        valid_from: float | None,
        now: float,
        valid_to: float | None = None,
        exclusive: bool = False,
        fact_id: int | None = None,
        weight: float = 1.0,
    ) -> int:
        """Adds or reinforces an edge; with `exclusive`, a different current object is expired, not deleted."""
        s = self.entity(subject, subject_type, valid_from, now)
        o = self.entity(obj, object_type, valid_from, now)
        current = self.conn.execute(
            "SELECT id, object_id, episode_ids FROM edges WHERE subject_id=? AND predicate=? AND expired_at IS NULL",
            (s, predicate),
        ).fetchall()
        for edge_id, object_id, episodes in current:
            if object_id == o:
                merged = sorted(set(json.loads(episodes)) | set(episode_ids))
                self.conn.execute(
                    "UPDATE edges SET weight=weight+?, episode_ids=?, updated_at=? WHERE id=?",
                    (weight, json.dumps(merged), now, edge_id),
                )
                return int(edge_id)
        if exclusive:
            for edge_id, _, _ in current:
                self.conn.execute(
                    "UPDATE edges SET expired_at=?, updated_at=?, valid_to=COALESCE(valid_to, ?) WHERE id=?",
                    (now, now, valid_from if valid_from is not None else now, edge_id),
                )
        cursor = self.conn.execute(
            "INSERT INTO edges (subject_id, predicate, object_id, weight, valid_from, valid_to, recorded_at,"
            " fact_id, episode_ids, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                s,
                predicate,
                o,
                weight,
                valid_from,
                valid_to,
                now,
                fact_id,
                json.dumps(sorted(set(episode_ids))),
                now,
            ),
        )
        return int(cursor.lastrowid or 0)

    def add_graph(
        self,
        mentions: list[tuple[int, str, str]],
        edges: list[tuple[str, str, str, str, str, list[str], float | None]],
    ) -> list[str]:
        """Distillation output: (episode rowid, entity name, type) mentions and non-exclusive edges."""
        now = time.time()
        out: list[int] = []
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                for episode, name, kind in mentions:
                    entity = self.entity(name, kind, None, now)
                    self.conn.execute(
                        "INSERT OR IGNORE INTO mentions (entity_id, episode_id) VALUES (?, ?)",
                        (entity, episode),
                    )
                for subject, s_type, predicate, obj, o_type, episodes, at in edges:
                    out.append(
                        self._edge(subject, s_type, predicate, obj, o_type, episodes, valid_from=at, now=now)
                    )
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.version += 1
        return ids("edge", out)

    # -- reads ----------------------------------------------------------------------------------------------

    def speakers(self) -> set[str]:
        """Distinct speakers: read once, then kept current by inserts."""
        with self.lock:
            if self._speakers is None:
                rows = self.conn.execute("SELECT DISTINCT speaker FROM episodes WHERE speaker IS NOT NULL")
                self._speakers = {r[0] for r in rows}
            return self._speakers

    def rows(self, query: str, params: Iterable[object] = ()) -> list[sqlite3.Row]:
        with self.lock:
            cursor = self.conn.execute(query, tuple(params))
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]  # type: ignore[misc]
