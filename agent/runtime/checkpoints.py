"""Local checkpoints: small loop state plus the transcript stored message by message.

Each save writes the state that can change and only the messages added since the last save, so a checkpoint
costs in proportion to the step, not the whole transcript (linear growth, not quadratic). What never changes
during a run (ids, input, policy …) is written once per run. Writes join the run log's open transaction and
become durable with the step's events.
"""

from __future__ import annotations

import json
import time

from agent.localdb import LocalDB
from agent.models.types import Message
from agent.runtime.state import RunState

FIXED: frozenset[str] = frozenset(
    {
        "run_id",
        "session_id",
        "thread_id",
        "space_id",
        "agent_type",
        "input",
        "labels",
        "model",
        "system_prompt",
        "temperature",
        "max_tokens",
        "locale",
        "input_index",
        "policy",
    }
)
"""RunState fields set when the run is prepared and never changed by the loop."""
_NOT_IN_STATE_ROW = FIXED | {"transcript"}


class CheckpointStore:
    def __init__(self, db: LocalDB) -> None:
        self._db = db
        self._saved_len: dict[str, int] = {}
        self._fixed_saved: set[str] = set()

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
                [(run_id, saved + i, m.model_dump_json(by_alias=True)) for i, m in enumerate(new)],
            )
        if run_id not in self._fixed_saved:
            conn.execute(
                "INSERT OR REPLACE INTO checkpoint_runs (run_id, fixed) VALUES (?,?)",
                (run_id, state.model_dump_json(include=set(FIXED), by_alias=True)),
            )
            self._fixed_saved.add(run_id)
        conn.execute(
            "INSERT OR REPLACE INTO checkpoints (run_id, version, state, updated_at) VALUES (?,?,?,?)",
            (
                run_id,
                state.checkpoint_version,
                state.model_dump_json(exclude=set(_NOT_IN_STATE_ROW), by_alias=True),
                time.time(),
            ),
        )
        self._saved_len[run_id] = len(state.transcript)
        return state.checkpoint_version

    def load(self, run_id: str) -> RunState | None:
        row = self._db.conn.execute(
            "SELECT c.state, r.fixed FROM checkpoints c LEFT JOIN checkpoint_runs r USING (run_id) "
            "WHERE c.run_id=?",
            (run_id,),
        ).fetchone()
        if row is None:
            return None
        changing, fixed = row
        # (A checkpoint written before the split has no `fixed` row: its state row is whole.)
        state = RunState.model_validate({**(json.loads(fixed) if fixed else {}), **json.loads(changing)})
        rows = self._db.conn.execute(
            "SELECT message FROM checkpoint_messages WHERE run_id=? ORDER BY idx", (run_id,)
        ).fetchall()
        state.transcript = [Message.model_validate_json(r[0]) for r in rows]
        self._saved_len[run_id] = len(state.transcript)
        return state

    def forget(self, run_id: str) -> None:
        self._saved_len.pop(run_id, None)
        self._fixed_saved.discard(run_id)
