"""Local checkpoints: small loop state plus the transcript stored message by message.

Each save writes the state row and only the messages added since the last save, so a checkpoint costs in
proportion to the step, not the whole transcript (linear growth, not quadratic). Writes join the run log's
open transaction and become durable with the step's events.
"""

from __future__ import annotations

import time

from agent.localdb import LocalDB
from agent.models.types import Message
from agent.runtime.state import RunState


class CheckpointStore:
    def __init__(self, db: LocalDB) -> None:
        self._db = db
        self._saved_len: dict[str, int] = {}

    def save(self, state: RunState) -> int:
        """Buffers a checkpoint in the open transaction; returns its version."""
        state.checkpoint_version += 1
        run_id = state.run_id
        saved = self._saved_len.get(run_id)
        if saved is None:
            row = self._db.conn.execute(
                "SELECT COUNT(*) FROM checkpoint_messages WHERE run_id=?", (run_id,)
            ).fetchone()
            saved = row[0]
        self._db.begin()
        conn = self._db.conn
        if saved > len(state.transcript):  # never happens in a forward-only loop; keep the store exact anyway
            conn.execute(
                "DELETE FROM checkpoint_messages WHERE run_id=? AND idx>=?", (run_id, len(state.transcript))
            )
            saved = len(state.transcript)
        new = state.transcript[saved:]
        if new:
            conn.executemany(
                "INSERT OR REPLACE INTO checkpoint_messages (run_id, idx, message) VALUES (?,?,?)",
                [(run_id, saved + i, m.model_dump_json()) for i, m in enumerate(new)],
            )
        conn.execute(
            "INSERT OR REPLACE INTO checkpoints (run_id, version, state, updated_at) VALUES (?,?,?,?)",
            (run_id, state.checkpoint_version, state.model_dump_json(exclude={"transcript"}), time.time()),
        )
        self._saved_len[run_id] = len(state.transcript)
        return state.checkpoint_version

    def load(self, run_id: str) -> RunState | None:
        row = self._db.conn.execute("SELECT state FROM checkpoints WHERE run_id=?", (run_id,)).fetchone()
        if row is None:
            return None
        state = RunState.model_validate_json(row[0])
        rows = self._db.conn.execute(
            "SELECT message FROM checkpoint_messages WHERE run_id=? ORDER BY idx", (run_id,)
        ).fetchall()
        state.transcript = [Message.model_validate_json(r[0]) for r in rows]
        self._saved_len[run_id] = len(state.transcript)
        return state

    def forget(self, run_id: str) -> None:
        self._saved_len.pop(run_id, None)
