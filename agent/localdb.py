"""The container's own SQLite database (DATA_DIR/runs.db): run log, checkpoints and the local run index.

One connection, used from the event loop only. Writes are buffered by their owners and committed together at
step boundaries, so an event batch and the checkpoint that covers it land in one transaction.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import AbstractContextManager
from pathlib import Path

from agent.storage import StorageStatus, is_storage_full
from control_bridge import sqlite

SCHEMA_VERSION = 3

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    run_id TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    key TEXT NOT NULL,
    type TEXT NOT NULL,
    data TEXT NOT NULL,
    ts REAL NOT NULL,
    PRIMARY KEY (run_id, sequence)
) WITHOUT ROWID;
-- One small entry per finished run (retention, duplicate /start). Keys of a running run are looked up in
-- memory, or by the primary key's run_id prefix after a restart: a full (run_id, key) index would add a page
-- write to every step's commit.
CREATE INDEX IF NOT EXISTS events_terminal ON events (run_id, ts) WHERE key = 'terminal';
CREATE TABLE IF NOT EXISTS checkpoints (
    run_id TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    state TEXT NOT NULL,
    updated_at REAL NOT NULL
);
-- What never changes during a run (ids, input, policy …), written once; `checkpoints.state` holds the rest.
CREATE TABLE IF NOT EXISTS checkpoint_runs (
    run_id TEXT PRIMARY KEY,
    fixed TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoint_messages (
    run_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    message TEXT NOT NULL,
    PRIMARY KEY (run_id, idx)
) WITHOUT ROWID;
"""


class LocalDB:
    def __init__(self, path: Path | str, storage: StorageStatus | None = None) -> None:
        self.path = Path(path)
        self.storage = storage or StorageStatus(self.path.parent, min_free_bytes=0)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        # No WAL checkpoint inside a COMMIT on the event loop: `checkpoint()` runs it from a worker thread.
        self.conn = sqlite.connect(path, busy_timeout_s=5.0, autocheckpoint=False)
        self._migrate()

    def _migrate(self) -> None:
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise RuntimeError(
                f"{self.path} was written by a newer version (schema {version} > {SCHEMA_VERSION}); "
                "upgrade the container or point DATA_DIR elsewhere"
            )
        if version == 1:  # v1 had a unique (run_id, key) index; v1 checkpoint rows hold the whole state
            self.conn.execute("DROP INDEX IF EXISTS events_key")
        self.conn.executescript(_SCHEMA)
        if 0 < version < 3:
            self._upgrade_events()
        self.conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def _upgrade_events(self) -> None:
        """v2 → v3: event payloads onto the one wire vocabulary, in one transaction (all or nothing).
        Checkpoints need no rewrite: RunState reads the v2 keys (`RunState._upgrade`)."""
        from agent.events.legacy import upgrade_event

        with self.transaction() as conn:
            rows = conn.execute("SELECT run_id, sequence, type, data FROM events").fetchall()
            conn.executemany(
                "UPDATE events SET data=? WHERE run_id=? AND sequence=?",
                [(json.dumps(upgrade_event(t, json.loads(d))), r, q) for r, q, t, d in rows],
            )

    # The transaction state is SQLite's own (`in_transaction`), never a flag of ours: on SQLITE_FULL SQLite
    # may already have rolled back, and a ROLLBACK then fails with "no transaction is active", hiding the cause.
    def begin(self) -> None:
        """Opens the write transaction lazily; owners call it before buffered writes (a group commit)."""
        sqlite.begin(self.conn)

    def commit(self) -> None:
        if not self.conn.in_transaction:
            return
        try:
            sqlite.commit(self.conn)
        except sqlite3.Error as exc:
            self.failed(exc)
            raise
        self.storage.record_ok()

    def rollback(self) -> None:
        sqlite.rollback(self.conn)  # (only if still open: on SQLITE_FULL SQLite may have rolled back)

    def failed(self, exc: BaseException) -> None:
        """A write failed: remember a full disk (for /health and admission)."""
        if is_storage_full(exc):
            self.storage.record_full(exc)

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        """One atomic unit of writes; inside an open group commit, a savepoint of it (committed with it)."""
        return sqlite.transaction(self.conn, immediate=False)

    def checkpoint(self) -> None:
        """Folds the WAL back and resets its file (see `sqlite.fold_wal`). Call from a worker thread."""
        sqlite.fold_wal(self.path)

    def close(self) -> None:
        self.commit()
        self.conn.close()
