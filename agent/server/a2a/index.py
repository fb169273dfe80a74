"""The A2A index: which runs are A2A tasks, whose they are, and the user's A2A messages (DATA_DIR/a2a.db).

The run log stays the one record of what a run did; this file only keeps what A2A adds and the run log cannot
hold: the caller, the contextId, the exact Message objects the client sent (ids, parts), and tasks that never
became runs (a refusal at admission, a direct Message reply). Each write is one small committed transaction.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from google.protobuf.json_format import MessageToJson, Parse

from a2a.types import Message, Task

SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    task_id TEXT PRIMARY KEY,
    context_id TEXT NOT NULL,
    owner TEXT NOT NULL,
    created_ts REAL NOT NULL,
    kind TEXT NOT NULL,            -- run | rejected
    snapshot TEXT                  -- a Task (JSON) for tasks that are not runs
);
CREATE INDEX IF NOT EXISTS tasks_context ON tasks (owner, context_id, created_ts);
CREATE TABLE IF NOT EXISTS messages (
    task_id TEXT NOT NULL,
    ts REAL NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_task ON messages (task_id, ts);
CREATE TABLE IF NOT EXISTS contexts (
    context_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class TaskRecord:
    task_id: str
    context_id: str
    owner: str
    created_ts: float
    kind: str
    snapshot: Task | None


class A2AIndex:
    def __init__(self, path: Path) -> None:
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(SCHEMA)

    def close(self) -> None:
        self._conn.close()

    def context_owner(self, context_id: str) -> str | None:
        row = self._conn.execute("SELECT owner FROM contexts WHERE context_id=?", (context_id,)).fetchone()
        return str(row[0]) if row else None

    def add_task(
        self, task_id: str, context_id: str, owner: str, message: Message, *, snapshot: Task | None = None
    ) -> float:
        now = time.time()
        with self._conn:
            self._conn.execute("BEGIN")
            self._conn.execute(
                "INSERT OR IGNORE INTO contexts (context_id, owner) VALUES (?, ?)", (context_id, owner)
            )
            self._conn.execute(
                "INSERT INTO tasks (task_id, context_id, owner, created_ts, kind, snapshot) VALUES (?,?,?,?,?,?)",
                (
                    task_id,
                    context_id,
                    owner,
                    now,
                    "run" if snapshot is None else "rejected",
                    MessageToJson(snapshot) if snapshot is not None else None,
                ),
            )
            self._conn.execute(
                "INSERT INTO messages (task_id, ts, message) VALUES (?, ?, ?)", (task_id, now, _dump(message))
            )
        return now

    def add_message(self, task_id: str, message: Message) -> None:
        with self._conn:
            self._conn.execute("BEGIN")
            self._conn.execute(
                "INSERT INTO messages (task_id, ts, message) VALUES (?, ?, ?)",
                (task_id, time.time(), _dump(message)),
            )

    def get(self, task_id: str) -> TaskRecord | None:
        row = self._conn.execute(
            "SELECT task_id, context_id, owner, created_ts, kind, snapshot FROM tasks WHERE task_id=?",
            (task_id,),
        ).fetchone()
        return _record(row) if row else None

    def messages(self, task_id: str) -> list[tuple[float, Message]]:
        rows = self._conn.execute(
            "SELECT ts, message FROM messages WHERE task_id=? ORDER BY ts, rowid", (task_id,)
        ).fetchall()
        return [(float(ts), Parse(text, Message())) for ts, text in rows]

    def tasks(self, owner: str, context_id: str | None, limit: int) -> list[TaskRecord]:
        """The owner's newest tasks (by creation), optionally in one context."""
        sql = "SELECT task_id, context_id, owner, created_ts, kind, snapshot FROM tasks WHERE owner=?"
        args: list[object] = [owner]
        if context_id:
            sql += " AND context_id=?"
            args.append(context_id)
        sql += " ORDER BY created_ts DESC LIMIT ?"
        args.append(limit)
        return [_record(row) for row in self._conn.execute(sql, args)]


def _dump(message: Message) -> str:
    return MessageToJson(message, indent=None)


def _record(row: tuple[object, ...]) -> TaskRecord:
    task_id, context_id, owner, created_ts, kind, snapshot = row
    return TaskRecord(
        task_id=str(task_id),
        context_id=str(context_id),
        owner=str(owner),
        created_ts=float(created_ts),  # type: ignore[arg-type]
        kind=str(kind),
        snapshot=Parse(str(snapshot), Task()) if snapshot else None,
    )
