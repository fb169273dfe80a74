"""The per-space database schema as an ordered list of migrations, recorded in `schema_version`.

A fresh database runs every migration; an older one runs only the ones it lacks, each in a transaction, so
a database written by an earlier release opens, upgrades in place and keeps its data.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable

from control_bridge import sqlite

SCHEMA_V1 = [
    """CREATE TABLE episodes (
        id INTEGER PRIMARY KEY, run_id TEXT, session_id TEXT, tool_call_id TEXT, kind TEXT NOT NULL,
        text TEXT NOT NULL, occurred_at REAL, recorded_at REAL NOT NULL, dedup_key TEXT UNIQUE, embedding BLOB)""",
    """CREATE TABLE facts (
        id INTEGER PRIMARY KEY, text TEXT NOT NULL, confidence REAL NOT NULL DEFAULT 1.0,
        episode_ids TEXT NOT NULL DEFAULT '[]', recorded_at REAL NOT NULL, text_hash TEXT UNIQUE, embedding BLOB)""",
    "CREATE VIRTUAL TABLE episodes_fts USING fts5(text, content='', tokenize='porter unicode61')",
    "CREATE INDEX episodes_session ON episodes(session_id, id)",
]


def _v2(conn: sqlite3.Connection) -> None:
    for column in (
        "thread_id TEXT",
        "speaker TEXT",
        "role TEXT",
        "sequence INTEGER",
        "metadata TEXT",
        "prev_id INTEGER",
    ):
        conn.execute(f"ALTER TABLE episodes ADD COLUMN {column}")
    for column in ("run_id TEXT", "session_id TEXT", "kind TEXT NOT NULL DEFAULT 'fact'", "occurred_at REAL"):
        conn.execute(f"ALTER TABLE facts ADD COLUMN {column}")
    conn.execute("ALTER TABLE facts ADD COLUMN metadata TEXT")
    script = """
        CREATE INDEX episodes_run ON episodes(run_id, id);
        CREATE INDEX episodes_prev ON episodes(prev_id);
        CREATE INDEX episodes_occurred ON episodes(occurred_at);
        CREATE INDEX facts_occurred ON facts(occurred_at);
        CREATE VIRTUAL TABLE facts_fts USING fts5(text, content='', tokenize='porter unicode61');
        CREATE TABLE entities (
            id INTEGER PRIMARY KEY, name TEXT NOT NULL, norm TEXT NOT NULL UNIQUE, type TEXT NOT NULL,
            first_seen REAL, last_seen REAL, recorded_at REAL NOT NULL);
        CREATE TABLE mentions (
            entity_id INTEGER NOT NULL, episode_id INTEGER NOT NULL, PRIMARY KEY (entity_id, episode_id))
            WITHOUT ROWID;
        CREATE INDEX mentions_episode ON mentions(episode_id);
        CREATE TABLE edges (
            id INTEGER PRIMARY KEY, subject_id INTEGER NOT NULL, predicate TEXT NOT NULL, object_id INTEGER NOT NULL,
            weight REAL NOT NULL DEFAULT 1.0, valid_from REAL, valid_to REAL, recorded_at REAL NOT NULL,
            expired_at REAL, fact_id INTEGER, episode_ids TEXT NOT NULL DEFAULT '[]', updated_at REAL NOT NULL);
        CREATE INDEX edges_updated ON edges(updated_at);
        CREATE INDEX edges_subject ON edges(subject_id, predicate);
        CREATE INDEX edges_object ON edges(object_id);
        CREATE INDEX edges_valid ON edges(valid_from);
        """
    # One statement at a time: executescript() would COMMIT the migration's transaction half-way.
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)
    # Facts written before v2 had no world time: their recording time is the best estimate.
    conn.execute("UPDATE facts SET occurred_at = recorded_at WHERE occurred_at IS NULL")
    conn.execute("UPDATE episodes SET metadata = '{}' WHERE metadata IS NULL")
    # v2 links each episode to the one before it in its session (conversation context for search).
    conn.execute(
        "UPDATE episodes SET prev_id = (SELECT MAX(p.id) FROM episodes p WHERE p.session_id = episodes.session_id"
        " AND p.id < episodes.id) WHERE session_id IS NOT NULL"
    )


def _v3(conn: sqlite3.Connection) -> None:
    # v3 records which space and which embedder a database belongs to, and finds unembedded rows fast:
    # vectors are written after the row (the embedding worker), so "embedding IS NULL" is a work queue.
    conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    conn.execute("CREATE INDEX episodes_unembedded ON episodes(id) WHERE embedding IS NULL")
    conn.execute("CREATE INDEX facts_unembedded ON facts(id) WHERE embedding IS NULL")


def _v1(conn: sqlite3.Connection) -> None:
    for statement in SCHEMA_V1:
        conn.execute(statement)


MIGRATIONS: list[tuple[int, Callable[[sqlite3.Connection], None]]] = [(1, _v1), (2, _v2), (3, _v3)]
LATEST = MIGRATIONS[-1][0]


def current_version(conn: sqlite3.Connection) -> int:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_at REAL NOT NULL)"
    )
    row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def migrate(conn: sqlite3.Connection) -> int:
    """Brings the database to LATEST; returns the version it started from."""
    start = current_version(conn)
    if start > LATEST:
        raise RuntimeError(f"memory database has schema version {start}, newer than this release ({LATEST})")
    for version, step in MIGRATIONS:
        if version <= start:
            continue
        with sqlite.transaction(conn):
            step(conn)
            conn.execute(
                "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)", (version, time.time())
            )
    return start
