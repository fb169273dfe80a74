"""The shared SQLite helper: the PRAGMAs every database gets, and one transaction style."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from agent.localdb import LocalDB
from control_bridge import sqlite
from control_bridge.embedded import EmbeddedControlPlane


def _pragma(conn: sqlite3.Connection, name: str) -> object:
    return conn.execute(f"PRAGMA {name}").fetchone()[0]


def _table(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE IF NOT EXISTS t (v INTEGER)")


def _values(path: Path) -> list[int]:
    other = sqlite3.connect(path)  # a second connection sees only what was committed
    try:
        return [v for (v,) in other.execute("SELECT v FROM t ORDER BY v")]
    finally:
        other.close()


def test_connect_sets_the_shared_pragmas(tmp_path: Path) -> None:
    conn = sqlite.connect(tmp_path / "a.db", busy_timeout_s=7.5, autocheckpoint=False, foreign_keys=True)
    assert _pragma(conn, "journal_mode") == "wal"
    assert _pragma(conn, "synchronous") == 1  # NORMAL
    assert _pragma(conn, "busy_timeout") == 7500
    assert _pragma(conn, "journal_size_limit") == sqlite.JOURNAL_SIZE_LIMIT
    assert _pragma(conn, "wal_autocheckpoint") == 0
    assert _pragma(conn, "foreign_keys") == 1
    assert conn.isolation_level is None and not conn.in_transaction
    conn.close()
    default = sqlite.connect(tmp_path / "b.db", rows=True)
    assert _pragma(default, "wal_autocheckpoint") == 1000 and _pragma(default, "foreign_keys") == 0
    assert isinstance(default.execute("SELECT 1 AS one").fetchone(), sqlite3.Row)
    default.close()


def test_memory_databases_work_without_wal() -> None:
    conn = sqlite.connect(":memory:")
    assert _pragma(conn, "journal_mode") == "memory"
    sqlite.fold_wal(":memory:")  # nothing to fold, and no error
    conn.close()


def test_transaction_commits_or_rolls_back_whole(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    conn = sqlite.connect(path)
    _table(conn)
    with sqlite.transaction(conn):
        conn.execute("INSERT INTO t VALUES (1)")
        assert conn.in_transaction and _values(path) == []  # not visible before the commit
    assert _values(path) == [1]
    with pytest.raises(RuntimeError), sqlite.transaction(conn):
        conn.execute("INSERT INTO t VALUES (2)")
        raise RuntimeError("halfway")
    assert not conn.in_transaction and _values(path) == [1]
    conn.close()


def test_nested_transaction_is_a_savepoint_of_the_group_commit(tmp_path: Path) -> None:
    path = tmp_path / "g.db"
    conn = sqlite.connect(path)
    _table(conn)
    sqlite.begin(conn)
    sqlite.begin(conn)  # idempotent: one group commit
    conn.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(ValueError), sqlite.transaction(conn):
        conn.execute("INSERT INTO t VALUES (2)")
        raise ValueError("only this part")
    with sqlite.transaction(conn):
        conn.execute("INSERT INTO t VALUES (3)")
    assert conn.in_transaction and _values(path) == []  # the owner of the group commit decides
    sqlite.commit(conn)
    sqlite.commit(conn)  # nothing open: a no-op
    assert _values(path) == [1, 3]
    sqlite.begin(conn)
    conn.execute("INSERT INTO t VALUES (4)")
    sqlite.rollback(conn)
    sqlite.rollback(conn)
    assert _values(path) == [1, 3]
    conn.close()


def test_fold_wal_empties_the_log_without_blocking_the_writer(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    conn = sqlite.connect(path, autocheckpoint=False)
    _table(conn)
    with sqlite.transaction(conn):
        conn.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(2000)])
    wal = Path(f"{path}-wal")
    assert wal.stat().st_size > 0
    sqlite.begin(conn)  # a writer holding the lock does not make a PASSIVE fold fail
    conn.execute("INSERT INTO t VALUES (-1)")
    sqlite.fold_wal(path)
    sqlite.commit(conn)
    sqlite.fold_wal(path)
    _, log_frames, folded = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert log_frames == folded  # everything in the log is in the database file
    conn.close()


async def test_runs_db_and_control_db_use_it(tmp_path: Path) -> None:
    runs = LocalDB(tmp_path / "runs.db")
    assert _pragma(runs.conn, "wal_autocheckpoint") == 0  # folded from a worker thread, never in a commit
    assert _pragma(runs.conn, "journal_size_limit") == sqlite.JOURNAL_SIZE_LIMIT
    runs.begin()
    assert runs.conn.in_transaction
    runs.commit()
    with pytest.raises(RuntimeError), runs.transaction() as conn:
        conn.execute("DELETE FROM checkpoints")
        raise RuntimeError("halfway")
    assert not runs.conn.in_transaction
    runs.close()
    plane = EmbeddedControlPlane(tmp_path / "control.db")
    store = plane._store
    assert _pragma(store.conn, "journal_mode") == "wal"
    assert _pragma(store.conn, "busy_timeout") == 10_000
    assert _pragma(store.conn, "journal_size_limit") == sqlite.JOURNAL_SIZE_LIMIT
    await plane.aclose()


def test_fold_wal_shrinks_the_wal_file_back(tmp_path: Path) -> None:
    """Issue 16 item 4: a PASSIVE checkpoint alone leaves the WAL at its high-water mark; folding resets it."""
    path = tmp_path / "wal.db"
    conn = sqlite.connect(path, autocheckpoint=False)
    conn.execute("CREATE TABLE t (v BLOB)")
    for _ in range(200):
        with sqlite.transaction(conn):
            conn.execute("INSERT INTO t VALUES (?)", (b"x" * 8192,))
    wal = Path(f"{path}-wal")
    grown = wal.stat().st_size
    assert grown > 1_000_000
    sqlite.fold_wal(path)
    assert wal.stat().st_size == 0  # TRUNCATE after a complete PASSIVE resets the file
    # the folded database is intact and still writable from the open connection
    with sqlite.transaction(conn):
        conn.execute("INSERT INTO t VALUES (?)", (b"y",))
    assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 201
    conn.close()


def test_fold_wal_skips_truncate_while_a_reader_pins_the_wal(tmp_path: Path) -> None:
    """A reader holding an old snapshot keeps frames un-copied: folding returns promptly, without raising."""
    import time

    path = tmp_path / "pin.db"
    conn = sqlite.connect(path, autocheckpoint=False)
    conn.execute("CREATE TABLE t (v BLOB)")
    reader = sqlite.connect(path)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM t").fetchone()
    for _ in range(50):
        with sqlite.transaction(conn):
            conn.execute("INSERT INTO t VALUES (?)", (b"x" * 8192,))
    started = time.monotonic()
    sqlite.fold_wal(path)
    assert time.monotonic() - started < 1.0
    reader.execute("COMMIT")
    sqlite.fold_wal(path)
    assert Path(f"{path}-wal").stat().st_size == 0
    reader.close()
    conn.close()
