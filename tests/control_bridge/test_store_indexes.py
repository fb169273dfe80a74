"""The embedded control plane's per-run queries stay indexed as its tables grow."""

from __future__ import annotations

from pathlib import Path

from control_bridge._store_admin import AdminStore


def test_history_finds_where_a_runs_messages_start_by_index(tmp_path: Path) -> None:
    store = AdminStore(tmp_path / "control.db")
    try:
        rows = store.conn.execute("EXPLAIN QUERY PLAN SELECT MIN(id) FROM messages WHERE run_id = ?", ("r",))
        plan = " ".join(str(r[-1]) for r in rows)
        assert "INDEX" in plan and "SCAN messages" not in plan
    finally:
        store.close()
