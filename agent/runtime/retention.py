"""Retention: finished runs' logs and checkpoints are pruned by age and by count, so storage stays bounded.

A run is finished when its terminal event is in the log. Unfinished runs (running, paused, suspended) are
never pruned: they may still be resumed.
"""

from __future__ import annotations

import time

from pydantic import BaseModel

from agent.localdb import LocalDB


class PruneResult(BaseModel):
    runs: int
    events: int


def prune(db: LocalDB, *, max_age_days: float, max_runs: int, now: float | None = None) -> PruneResult:
    now = time.time() if now is None else now
    cutoff = now - max_age_days * 86_400
    finished = db.conn.execute(
        "SELECT run_id, ts FROM events WHERE key='terminal' ORDER BY ts DESC"
    ).fetchall()
    doomed = [run_id for i, (run_id, ts) in enumerate(finished) if ts < cutoff or i >= max_runs]
    if not doomed:
        return PruneResult(runs=0, events=0)
    events = 0
    with db.transaction() as conn:  # a failure halfway deletes nothing
        for run_id in doomed:
            events += conn.execute("DELETE FROM events WHERE run_id=?", (run_id,)).rowcount
            conn.execute("DELETE FROM checkpoints WHERE run_id=?", (run_id,))
            conn.execute("DELETE FROM checkpoint_runs WHERE run_id=?", (run_id,))
            conn.execute("DELETE FROM checkpoint_messages WHERE run_id=?", (run_id,))
    db.commit()  # (durable now even when it joined an open group commit, as before)
    return PruneResult(runs=len(doomed), events=events)
