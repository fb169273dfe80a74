"""Graph writes of a space: entities, mentions and bi-temporal edges (a mixin of SpaceStore).

Kept apart from episode and fact writes because its rules are the graph's own: entities are merged by their
normalised name, an edge seen again is reinforced, and an exclusive edge is expired, never deleted.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from contextlib import AbstractContextManager

from memory._text import ids, norm


class GraphWrites:
    conn: sqlite3.Connection
    lock: threading.RLock
    version: int

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

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
        with self.transaction():
            for episode, name, kind in mentions:
                entity = self.entity(name, kind, None, now)
                self.conn.execute(
                    "INSERT OR IGNORE INTO mentions (entity_id, episode_id) VALUES (?, ?)", (entity, episode)
                )
            for subject, s_type, predicate, obj, o_type, episodes, at in edges:
                out.append(
                    self._edge(subject, s_type, predicate, obj, o_type, episodes, valid_from=at, now=now)
                )
        return ids("edge", out)
