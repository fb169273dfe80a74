"""The embedded control plane's state: synchronous SQLite operations, one short transaction per method.

Every public method here runs on the embedded control plane's single database thread, so each is atomic
with respect to the others (one connection, `BEGIN IMMEDIATE`), and WAL lets other processes read meanwhile.
"""

from __future__ import annotations

import hashlib
import sqlite3
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import sqlite_utils
from pydantic_core import from_json, to_json

from control_bridge import contract as c
from control_bridge import sqlite
from control_bridge._builtin_tools import BUILTIN_TOOLS, run_builtin
from control_bridge._schema_sql import create_schema
from control_bridge.errors import Conflict, LeaseLost, NotFound
from control_bridge.tool_failure import ToolFailure
from control_bridge.wire import utc_iso


def _now() -> str:
    return utc_iso()


def _dumps(value: Any) -> str:
    """Compact JSON via pydantic-core (about 4× faster than the json module on row-sized values)."""
    return to_json(value).decode()


def _loads(text: str | None, default: Any = None) -> Any:
    return default if text is None else from_json(text)


@dataclass(frozen=True)
class PendingHttpTool:
    """tools.execute reserved the idempotency key; the caller must POST to the endpoint, then finish_tool."""

    endpoint: str
    timeout_s: float | None
    in_progress_elsewhere: bool = False


class Store:
    """Owns one SQLite connection; not thread-safe by itself (the caller serialises access)."""

    def __init__(self, db_path: str | Path, *, autocheckpoint: bool = True) -> None:
        """`autocheckpoint=False` leaves folding the WAL to `fold_wal` (from a worker thread): SQLite's own
        folds it inside a COMMIT, with an fsync, which an owner committing on its event loop must avoid."""
        self.path = str(db_path)
        self.conn = sqlite.connect(self.path, busy_timeout_s=10.0, autocheckpoint=autocheckpoint, rows=True)
        create_schema(sqlite_utils.Database(self.conn))

    def fold_wal(self) -> None:
        """A PASSIVE WAL checkpoint on a connection of its own (never blocks writers); thread-safe."""
        sqlite.fold_wal(self.path)

    def close(self) -> None:
        self.conn.close()

    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:
        return sqlite.transaction(self.conn)

    # --- helpers ---------------------------------------------------------------------------------------
    def _run(self, run_id: str) -> sqlite3.Row:
        row: sqlite3.Row | None = self.conn.execute(
            "SELECT * FROM runs WHERE run_id = ?", (run_id,)
        ).fetchone()
        if row is None:
            raise NotFound(f"run {run_id!r} not found", data={"runId": run_id})
        return row

    def _fenced(self, p: c.RunRef) -> sqlite3.Row:
        """The run, after checking the caller's lease: older → LeaseLost, newer than granted → Conflict."""
        row = self._run(p.run_id)
        current = row["lease_version"]
        if p.lease_version and p.lease_version < current:
            raise LeaseLost(
                f"lease {p.lease_version} superseded by {current}",
                data={"runId": p.run_id, "leaseVersion": current},
            )
        if p.lease_version > current:
            raise Conflict(f"lease {p.lease_version} was never granted (current {current})")
        return row

    def _space(self, space_id: str) -> dict[str, Any]:
        row = self.conn.execute("SELECT * FROM spaces WHERE space_id = ?", (space_id,)).fetchone()
        return dict(row) if row else {}

    # --- contract methods ------------------------------------------------------------------------------
    def bootstrap(self, p: c.RunBootstrapParams) -> c.RunBootstrapResult:
        with self._tx() as conn:
            row = self._fenced(p)
            status = row["status"]
            if status == "pending":
                status = "running"
                conn.execute(
                    "UPDATE runs SET status = 'running', updated_at = ? WHERE run_id = ?", (_now(), p.run_id)
                )
        return c.RunBootstrapResult(
            run_id=p.run_id,
            status=status,
            space_id=row["space_id"],
            session_id=row["session_id"],
            thread_id=row["thread_id"],
            user_id=row["user_id"],
            agent_type=row["agent_type"],
            input=row["input"],
            labels=_loads(row["labels"], {}),
            locale=row["locale"],
            lease_version=row["lease_version"],
        )

    def config(self, p: c.RunConfigParams) -> c.RunConfigResult:
        row = self._fenced(p)
        return c.RunConfigResult.model_validate(_loads(row["config"], {}))

    def history(self, p: c.ConversationHistoryParams) -> c.ConversationHistoryResult:
        """Messages of the run's thread written before this run began (its own input comes via bootstrap)."""
        row = self._fenced(p)
        thread = self.conn.execute("SELECT title FROM threads WHERE thread_id = ?", (row["thread_id"],))
        title = (thread.fetchone() or {"title": None})["title"]
        (first_own,) = self.conn.execute(
            "SELECT MIN(id) FROM messages WHERE run_id = ?", (p.run_id,)
        ).fetchone()
        rows = self.conn.execute(
            "SELECT * FROM messages WHERE thread_id = ? AND id < ? ORDER BY id DESC LIMIT ?",
            (row["thread_id"], first_own if first_own is not None else 2**62, p.limit),
        ).fetchall()
        messages = [
            c.HistoryMessage(
                role=m["role"],
                content=m["content"] or "",
                tool_calls=_loads(m["tool_calls"], []),
                tool_call_id=m["tool_call_id"],
                run_id=m["run_id"],
                created_at=m["created_at"],
            )
            for m in reversed(rows)
        ]
        return c.ConversationHistoryResult(thread_id=row["thread_id"], title=title, messages=messages)

    def catalog(self, p: c.ToolsCatalogParams) -> c.ToolsCatalogResult:
        self._fenced(p)
        return c.ToolsCatalogResult(tools=list(self._tools().values()))

    def _tools(self) -> dict[str, c.RemoteTool]:
        tools = dict(BUILTIN_TOOLS)
        for row in self.conn.execute("SELECT spec FROM tools ORDER BY name"):
            tool = c.RemoteTool.model_validate_json(row["spec"])
            tools[tool.name] = tool
        return tools

    def cleanup(self, p: c.ToolsCleanupParams) -> c.ToolsCleanupResult:
        """Nothing to release: this plane keeps no per-run remote resources (its HTTP tools are stateless)."""
        self._fenced(p)
        return c.ToolsCleanupResult(released=0)

    def runtime_context(self, p: c.SkillsRuntimeContextParams) -> c.SkillsRuntimeContextResult:
        row = self._fenced(p)
        space = self._space(row["space_id"])
        return c.SkillsRuntimeContextResult(
            custom_skills=_loads(space.get("custom_skills"), []),
            locale=row["locale"],
            mcp_servers=_loads(space.get("mcp_servers"), []),
            template_ids=_loads(space.get("template_ids"), []),
        )

    def heartbeat(self, p: c.RunHeartbeatParams) -> c.RunHeartbeatResult:
        with self._tx() as conn:
            row = self._fenced(p)
            conn.execute(
                "UPDATE runs SET heartbeat_at = ?, worker_id = COALESCE(?, worker_id) WHERE run_id = ?",
                (_now(), p.worker_id, p.run_id),
            )
        return c.RunHeartbeatResult(
            ok=row["status"] not in c.TERMINAL_STATUSES,
            lease_version=row["lease_version"],
            cancel_requested=bool(row["cancel_requested"]),
        )

    def is_cancelled(self, p: c.RunIsCancelledParams) -> c.RunIsCancelledResult:
        row = self._fenced(p)
        cancelled = bool(row["cancel_requested"])
        return c.RunIsCancelledResult(cancelled=cancelled, reason=row["cancel_reason"] if cancelled else None)

    def events_append(self, p: c.RunEventsAppendParams) -> c.RunEventsAppendResult:
        """Insert-or-ignore on (runId, sequence): a retried batch is harmless. Allowed after completion so
        the terminal event can follow run.complete."""
        with self._tx() as conn:
            self._fenced(p)
            now = utc_iso()
            rows = [(p.run_id, e.sequence, e.type, _dumps(e.data), e.time or now) for e in p.events]
            cur = conn.executemany("INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?)", rows)
            accepted = max(cur.rowcount, 0)
            (last,) = conn.execute(
                "SELECT MAX(sequence) FROM events WHERE run_id = ?", (p.run_id,)
            ).fetchone()
        return c.RunEventsAppendResult(
            accepted=accepted, duplicates=len(rows) - accepted, last_sequence=last or 0
        )

    def checkpoint_save(self, p: c.RunCheckpointSaveParams) -> c.RunCheckpointSaveResult:
        """Versions only move forward under one lease; a newer lease may rewind (it resumes older state)."""
        with self._tx() as conn:
            self._fenced(p)
            latest = conn.execute(
                "SELECT version, lease_version FROM checkpoints WHERE run_id = ? "
                "ORDER BY version DESC LIMIT 1",
                (p.run_id,),
            ).fetchone()
            if latest and p.version < latest["version"]:
                if p.lease_version <= latest["lease_version"]:
                    raise Conflict(f"checkpoint version {p.version} is older than {latest['version']}")
                conn.execute(
                    "DELETE FROM checkpoints WHERE run_id = ? AND version >= ?", (p.run_id, p.version)
                )
            conn.execute(
                "INSERT OR REPLACE INTO checkpoints VALUES (?, ?, ?, ?, ?)",
                (p.run_id, p.version, p.lease_version, _dumps(p.state), _now()),
            )
        return c.RunCheckpointSaveResult(version=p.version)

    def checkpoint_load(self, p: c.RunCheckpointLoadParams) -> c.RunCheckpointLoadResult:
        self._fenced(p)
        row = self.conn.execute(
            "SELECT version, state FROM checkpoints WHERE run_id = ? ORDER BY version DESC LIMIT 1",
            (p.run_id,),
        ).fetchone()
        if row is None:
            return c.RunCheckpointLoadResult()
        return c.RunCheckpointLoadResult(version=row["version"], state=_loads(row["state"]))

    def complete(self, p: c.RunCompleteParams) -> c.RunCompleteResult:
        """One transaction: the run record and the assistant's final message; a terminal status is final."""
        with self._tx() as conn:
            row = self._fenced(p)
            if row["status"] in c.TERMINAL_STATUSES:
                return c.RunCompleteResult(status=row["status"], already_completed=True)
            now = _now()
            conn.execute(
                "UPDATE runs SET status = ?, usage = ?, output = ?, error = ?, reason = ?, transcript = ?, "
                "updated_at = ?, completed_at = ? WHERE run_id = ?",
                (
                    p.status,
                    _dumps(p.usage.wire()),
                    p.output,
                    None if p.error is None else _dumps(p.error.wire()),
                    p.reason,
                    _dumps([m.wire() for m in p.transcript]),
                    now,
                    now,
                    p.run_id,
                ),
            )
            if p.output:
                self._add_message(row["thread_id"], p.run_id, "assistant", p.output)
        return c.RunCompleteResult(status=p.status)

    def api_keys(self, p: c.SecretsApiKeysParams) -> c.SecretsApiKeysResult:
        row = self._fenced(p)
        return c.SecretsApiKeysResult(keys=_loads(self._space(row["space_id"]).get("api_keys"), {}))

    # --- tools.execute ---------------------------------------------------------------------------------
    def begin_tool(
        self, p: c.ToolsExecuteParams, external: c.RemoteTool | None = None
    ) -> c.ToolsExecuteResult | PendingHttpTool:
        """Replays a recorded result, or runs a built-in tool inside the transaction that records it (so the
        side effect and its record commit together), or reserves the key for an HTTP tool. `external` is a
        tool this store does not hold (an MCP tool): its key is reserved like an HTTP tool's."""
        call = p.tool_call
        fingerprint = hashlib.sha256(_dumps([call.name, call.arguments]).encode()).hexdigest()
        with self._tx() as conn:
            row = self._fenced(p)
            prior = conn.execute(
                "SELECT * FROM tool_results WHERE run_id = ? AND idempotency_key = ?",
                (p.run_id, p.idempotency_key),
            ).fetchone()
            if prior is not None:
                if prior["fingerprint"] != fingerprint:
                    raise Conflict("idempotency key reused for a different tool call")
                if prior["status"] == "done":
                    return c.ToolsExecuteResult.model_validate_json(prior["result"]).model_copy(
                        update={"replayed": True, "tool_call_id": call.id}
                    )
                return PendingHttpTool(endpoint="", timeout_s=None, in_progress_elsewhere=True)
            if row["status"] in c.TERMINAL_STATUSES:
                raise Conflict(f"run {p.run_id!r} is {row['status']}")
            tool = external or self._tools().get(call.name)
            endpoint_row = conn.execute(
                "SELECT http_endpoint FROM tools WHERE name = ?", (call.name,)
            ).fetchone()
            endpoint = "mcp:" if external else endpoint_row["http_endpoint"] if endpoint_row else None
            result = self._execute_now(conn, call, tool, endpoint)
            status = "pending" if result is None else "done"
            conn.execute(
                "INSERT INTO tool_results VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    p.run_id,
                    p.idempotency_key,
                    call.id,
                    call.name,
                    fingerprint,
                    status,
                    None if result is None else _dumps(result.wire()),
                    _now(),
                ),
            )
            if result is not None:
                return result
            assert tool is not None and endpoint is not None
            return PendingHttpTool(endpoint=endpoint, timeout_s=(tool.timeout_ms or 30_000) / 1000)

    def _execute_now(
        self, conn: sqlite3.Connection, call: c.ToolCall, tool: c.RemoteTool | None, endpoint: str | None
    ) -> c.ToolsExecuteResult | None:
        def failure(kind: c.ToolFailureKind, message: str) -> c.ToolsExecuteResult:
            return c.ToolsExecuteResult(
                tool_call_id=call.id, error=c.ToolExecutionError(kind=kind, message=message)
            )

        if tool is None:
            return failure("unknown_tool", f"no remote tool named {call.name!r}")
        problems = sorted(
            jsonschema.Draft202012Validator(tool.parameters).iter_errors(call.arguments), key=str
        )
        if problems:
            where = "/".join(str(x) for x in problems[0].absolute_path) or "arguments"
            return failure("invalid_call", f"{where}: {problems[0].message}"[:500])
        conn.execute(
            "INSERT INTO tool_executions VALUES (?, 1) ON CONFLICT(name) DO UPDATE SET count = count + 1",
            (call.name,),
        )
        if endpoint:
            return None
        try:
            return c.ToolsExecuteResult(
                tool_call_id=call.id, output=run_builtin(conn, call.name, call.arguments)
            )
        except ToolFailure as exc:
            return failure(exc.kind, exc.message)

    def finish_tool(self, p: c.ToolsExecuteParams, result: c.ToolsExecuteResult) -> None:
        with self._tx() as conn:
            conn.execute(
                "UPDATE tool_results SET status = 'done', result = ? "
                "WHERE run_id = ? AND idempotency_key = ?",
                (_dumps(result.wire()), p.run_id, p.idempotency_key),
            )

    def _add_message(self, thread_id: str, run_id: str, role: str, content: str) -> None:
        self.conn.execute(
            "INSERT INTO messages (thread_id, run_id, role, content, tool_calls, created_at) "
            "VALUES (?, ?, ?, ?, '[]', ?)",
            (thread_id, run_id, role, content, _now()),
        )
