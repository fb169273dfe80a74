"""The embedded control plane's SQLite: per-run queries stay indexed; the WAL is folded off the event loop."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from control_bridge import contract as c
from control_bridge._store_admin import AdminStore
from control_bridge.embedded import EmbeddedControlPlane


def test_history_finds_where_a_runs_messages_start_by_index(tmp_path: Path) -> None:
    store = AdminStore(tmp_path / "control.db")
    try:
        rows = store.conn.execute("EXPLAIN QUERY PLAN SELECT MIN(id) FROM messages WHERE run_id = ?", ("r",))
        plan = " ".join(str(r[-1]) for r in rows)
        assert "INDEX" in plan and "SCAN messages" not in plan
    finally:
        store.close()


def test_an_inline_plane_leaves_folding_the_wal_to_its_owner(tmp_path: Path) -> None:
    """Inline (on the event loop), SQLite must not fold the WAL inside a commit: fold_wal does, off the loop."""
    plane = EmbeddedControlPlane(tmp_path / "control.db", inline=True)
    store = plane._store
    try:
        assert store.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
        for i in range(20):
            store.create_run(c.CreateRunParams(input=f"m{i}"))
        assert _runs_in_main_file(tmp_path / "control.db", tmp_path / "before.db") == 0  # all in the WAL
        plane.fold_wal()
        assert _runs_in_main_file(tmp_path / "control.db", tmp_path / "after.db") == 20
    finally:
        store.close()
    threaded = AdminStore(tmp_path / "other.db")
    try:
        assert threaded.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000
    finally:
        threaded.close()


def _runs_in_main_file(db: Path, copy: Path) -> int:
    """Rows in the database file itself, WAL left out."""
    shutil.copyfile(db, copy)
    conn = sqlite3.connect(copy)
    try:
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name='runs'").fetchone() is None:
            return 0
        return int(conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0])
    finally:
        conn.close()
