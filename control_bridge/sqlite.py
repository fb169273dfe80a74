"""The one way this project opens and writes SQLite: runs.db, control.db and memory share it.

Every database is opened in autocommit mode (`isolation_level=None`): the stdlib's implicit transactions
would BEGIN behind our back, so each owner states its transactions instead, through `transaction()` or, for
a group commit that stays open across awaits, `begin`/`commit`/`rollback`.

The PRAGMAs, and why:
- `journal_mode=WAL`: readers (other processes, the SSE stream) never block the writer.
- `synchronous=NORMAL`: in WAL mode a crash can lose the last commits but never corrupts the file; a
  power cut costing the last few milliseconds is cheaper than an fsync per commit.
- `busy_timeout`: a second process holding the write lock is waited for, not reported as an error.
- `journal_size_limit`: after a checkpoint resets the WAL, its file is truncated to this size, so one
  burst of writes does not keep a huge WAL on disk for ever.
- `wal_autocheckpoint=0` (opt-in): SQLite's own checkpoint runs inside a COMMIT, with an fsync; an owner
  committing on its event loop turns it off and calls `fold_wal` from a worker thread instead.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import count
from pathlib import Path

__all__ = [
    "JOURNAL_SIZE_LIMIT",
    "TRUNCATE_BUSY_TIMEOUT_MS",
    "begin",
    "commit",
    "connect",
    "fold_wal",
    "rollback",
    "transaction",
]

JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024
"""Bytes of WAL file kept after a checkpoint (SQLite's default keeps it at its high-water mark)."""

_savepoints = count(1)


def connect(
    path: str | Path,
    *,
    busy_timeout_s: float = 5.0,
    autocheckpoint: bool = True,
    foreign_keys: bool = False,
    rows: bool = False,
) -> sqlite3.Connection:
    """Opens `path` (or ":memory:") with the shared PRAGMAs.

    Args:
        busy_timeout_s: how long a write waits for another connection's lock.
        autocheckpoint: False leaves folding the WAL to `fold_wal` (see the module docstring).
        foreign_keys: enforce FOREIGN KEY clauses (off by default in SQLite).
        rows: return `sqlite3.Row` (by-name access) instead of tuples.
    """
    name = str(path)
    conn = sqlite3.connect(name, isolation_level=None, check_same_thread=False, timeout=busy_timeout_s)
    if rows:
        conn.row_factory = sqlite3.Row
    if name != ":memory:":
        conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
    conn.execute(f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT}")
    if not autocheckpoint:
        conn.execute("PRAGMA wal_autocheckpoint=0")
    if foreign_keys:
        conn.execute("PRAGMA foreign_keys=ON")
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection, *, immediate: bool = True) -> Iterator[sqlite3.Connection]:
    """One atomic unit: committed when the block ends, rolled back (and re-raised) if it raises.

    Inside a transaction that is already open (a group commit), the block becomes a SAVEPOINT: its own
    failure undoes only its writes, and its success leaves committing to the owner of the outer one.
    `immediate` takes the write lock at BEGIN, so a read-then-write cannot fail halfway on a lock upgrade.
    """
    if conn.in_transaction:
        name = f"sp{next(_savepoints)}"
        conn.execute(f"SAVEPOINT {name}")
        try:
            yield conn
        except BaseException:
            conn.execute(f"ROLLBACK TO {name}")
            conn.execute(f"RELEASE {name}")
            raise
        conn.execute(f"RELEASE {name}")
        return
    conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
    try:
        yield conn
        conn.execute("COMMIT")  # (inside: a COMMIT that fails on SQLITE_FULL must not leave it open)
    except BaseException:
        rollback(conn)  # (if still open: SQLite may have rolled back already, e.g. on SQLITE_FULL)
        raise


def begin(conn: sqlite3.Connection, *, immediate: bool = False) -> None:
    """Opens a transaction unless one is open: a group commit gathers several owners' writes into one."""
    if not conn.in_transaction:
        conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")


def commit(conn: sqlite3.Connection) -> None:
    """Commits the open transaction, if any."""
    if conn.in_transaction:
        conn.execute("COMMIT")


def rollback(conn: sqlite3.Connection) -> None:
    """Rolls back the open transaction, if any."""
    if conn.in_transaction:
        conn.execute("ROLLBACK")


TRUNCATE_BUSY_TIMEOUT_MS = 50
"""How long folding's TRUNCATE step waits for a writer or reader before giving up until the next fold."""


def fold_wal(path: str | Path) -> None:
    """Folds the WAL back into the database and, when that copied every frame, resets the WAL file to 0 bytes.

    PASSIVE never blocks writers but leaves the file at its high-water mark, so under sustained load it
    only grows. After a PASSIVE that copied everything, TRUNCATE has almost nothing left to copy; its short
    busy timeout means a concurrent writer or reader makes it give up (until the next fold) rather than
    wait. Safe from any thread: it uses a connection of its own.
    """
    if str(path) == ":memory:":
        return
    conn = sqlite3.connect(str(path), timeout=5)
    try:
        busy, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        if busy == 0 and frames >= 0 and copied == frames:
            conn.execute(f"PRAGMA busy_timeout={TRUNCATE_BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc) and "busy" not in str(exc):
            raise
    finally:
        conn.close()
