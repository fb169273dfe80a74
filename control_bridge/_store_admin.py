"""Admin operations of the embedded control plane: create runs, register tools, bump leases, inspect."""

from __future__ import annotations

import secrets
import sqlite3
import time
from typing import Any

import jsonschema

from control_bridge import contract as c
from control_bridge._store import Store, _dumps, _loads, _now
from control_bridge.errors import Conflict, InvalidParams
from control_bridge.wire import utc_iso


def sortable_id(prefix: str) -> str:
    """A unique id that sorts by creation time (like UUIDv7: 64 bits of nanoseconds, 48 random bits).

    Runs' rows in the container's database are keyed by run id: new runs then append at the right edge of
    each B-tree instead of splitting pages at random places, which keeps every step's commit small.
    """
    return f"{prefix}_{time.time_ns():016x}{secrets.token_hex(6)}"


class AdminStore(Store):
    """The platform side: what the reference server's admin.* methods and tests drive."""

    def create_run(self, p: c.CreateRunParams) -> c.CreateRunResult:
        run_id = p.run_id or sortable_id("run")
        thread_id = p.thread_id or sortable_id("thr")
        session_id = p.session_id or sortable_id("ses")
        now = _now()
        with self._tx() as conn:
            if conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone():
                raise Conflict(f"run {run_id!r} already exists", data={"runId": run_id})
            thread = conn.execute("SELECT space_id FROM threads WHERE thread_id = ?", (thread_id,)).fetchone()
            if thread is None:
                conn.execute("INSERT INTO threads VALUES (?, ?, ?, ?)", (thread_id, p.space_id, p.title, now))
            elif thread["space_id"] != p.space_id:
                raise Conflict(f"thread {thread_id!r} belongs to another space")
            config = (p.config or c.RunConfigResult()).wire()
            conn.execute(
                "INSERT INTO runs (run_id, space_id, thread_id, session_id, user_id, agent_type, input, "
                "labels, locale, config, status, lease_version, cancel_requested, usage, created_at, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', 1, 0, ?, ?, ?)",
                (
                    run_id,
                    p.space_id,
                    thread_id,
                    session_id,
                    p.user_id,
                    p.agent_type,
                    p.input,
                    _dumps(p.labels),
                    p.locale,
                    _dumps(config),
                    _dumps(c.UsageRecord().wire()),
                    now,
                    now,
                ),
            )
            self._add_message(thread_id, run_id, "user", p.input)
        return c.CreateRunResult(
            run_id=run_id, space_id=p.space_id, thread_id=thread_id, session_id=session_id, lease_version=1
        )

    def get_run(self, p: c.RunIdParams) -> c.RunRecord:
        return _record(self._run(p.run_id))

    def list_runs(self, p: c.ListRunsParams) -> c.ListRunsResult:
        where, args = [], []
        for column, value in (("space_id", p.space_id), ("thread_id", p.thread_id), ("status", p.status)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        sql = "SELECT * FROM runs" + (" WHERE " + " AND ".join(where) if where else "")
        rows = self.conn.execute(sql + " ORDER BY created_at, run_id LIMIT ?", (*args, p.limit)).fetchall()
        return c.ListRunsResult(runs=[_record(r) for r in rows])

    def events(self, p: c.AdminEventsParams) -> c.AdminEventsResult:
        self._run(p.run_id)
        rows = self.conn.execute(
            "SELECT * FROM events WHERE run_id = ? AND sequence > ? ORDER BY sequence LIMIT ?",
            (p.run_id, p.after, p.limit),
        ).fetchall()
        return c.AdminEventsResult(
            events=[
                c.EventRecord(
                    sequence=r["sequence"],
                    type=r["type"],
                    data=_loads(r["data"]),
                    time=r["ts"] if isinstance(r["ts"], str) else utc_iso(r["ts"]),
                )
                for r in rows
            ]
        )

    def register_tool(self, p: c.RegisterToolParams) -> c.RegisterToolResult:
        try:
            jsonschema.Draft202012Validator.check_schema(p.tool.parameters)
        except jsonschema.SchemaError as exc:
            raise InvalidParams(f"tool parameters are not a valid JSON Schema: {exc.message}"[:500]) from None
        with self._tx() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO tools VALUES (?, ?, ?)",
                (p.tool.name, p.tool.model_dump_json(by_alias=True), p.http_endpoint),
            )
        return c.RegisterToolResult(name=p.tool.name)

    def bump_lease(self, p: c.RunIdParams) -> c.BumpLeaseResult:
        with self._tx() as conn:
            self._run(p.run_id)
            conn.execute(
                "UPDATE runs SET lease_version = lease_version + 1, updated_at = ? WHERE run_id = ?",
                (_now(), p.run_id),
            )
            lease = self._run(p.run_id)["lease_version"]
        return c.BumpLeaseResult(run_id=p.run_id, lease_version=lease)

    def cancel_run(self, p: c.CancelRunParams) -> c.CancelRunResult:
        with self._tx() as conn:
            row = self._run(p.run_id)
            if row["status"] not in c.TERMINAL_STATUSES:
                conn.execute(
                    "UPDATE runs SET cancel_requested = 1, cancel_reason = ?, updated_at = ? "
                    "WHERE run_id = ?",
                    (p.reason, _now(), p.run_id),
                )
            row = self._run(p.run_id)
        return c.CancelRunResult(
            run_id=p.run_id, status=row["status"], cancel_requested=bool(row["cancel_requested"])
        )

    def set_custom_skills(self, p: c.SetCustomSkillsParams) -> c.SpaceUpdateResult:
        values: dict[str, Any] = {"custom_skills": _dumps([s.wire() for s in p.skills])}
        if p.mcp_servers is not None:
            values["mcp_servers"] = _dumps(p.mcp_servers)
        if p.template_ids is not None:
            values["template_ids"] = _dumps(p.template_ids)
        self._upsert_space(p.space_id, values)
        return c.SpaceUpdateResult(space_id=p.space_id, count=len(p.skills))

    def set_api_keys(self, p: c.SetApiKeysParams) -> c.SpaceUpdateResult:
        self._upsert_space(p.space_id, {"api_keys": _dumps(p.keys)})
        return c.SpaceUpdateResult(space_id=p.space_id, count=len(p.keys))

    def _upsert_space(self, space_id: str, values: dict[str, Any]) -> None:
        with self._tx() as conn:
            conn.execute("INSERT OR IGNORE INTO spaces (space_id) VALUES (?)", (space_id,))
            sets = ", ".join(f"{k} = ?" for k in values)
            conn.execute(f"UPDATE spaces SET {sets} WHERE space_id = ?", (*values.values(), space_id))

    def tool_count(self, p: c.ToolCountParams) -> c.ToolCountResult:
        row = self.conn.execute("SELECT count FROM tool_executions WHERE name = ?", (p.name,)).fetchone()
        return c.ToolCountResult(name=p.name, count=row["count"] if row else 0)


def _record(row: sqlite3.Row) -> c.RunRecord:
    return c.RunRecord(
        run_id=row["run_id"],
        space_id=row["space_id"],
        thread_id=row["thread_id"],
        session_id=row["session_id"],
        user_id=row["user_id"],
        agent_type=row["agent_type"],
        input=row["input"],
        labels=_loads(row["labels"], {}),
        locale=row["locale"],
        status=row["status"],
        lease_version=row["lease_version"],
        worker_id=row["worker_id"],
        cancel_requested=bool(row["cancel_requested"]),
        cancel_reason=row["cancel_reason"],
        usage=_loads(row["usage"], {}),
        output=row["output"],
        error=_loads(row["error"]),
        reason=row["reason"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        completed_at=row["completed_at"],
    )
