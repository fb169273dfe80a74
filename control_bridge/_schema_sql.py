"""The embedded control plane's tables (created with sqlite-utils, idempotently)."""

from __future__ import annotations

import sqlite_utils

_TABLES: dict[str, tuple[dict[str, type], str | tuple[str, ...]]] = {
    "threads": ({"thread_id": str, "space_id": str, "title": str, "created_at": str}, "thread_id"),
    "messages": (
        {
            "id": int,
            "thread_id": str,
            "run_id": str,
            "role": str,
            "content": str,
            "tool_calls": str,
            "tool_call_id": str,
            "created_at": str,
        },
        "id",
    ),
    "runs": (
        {
            "run_id": str,
            "space_id": str,
            "thread_id": str,
            "session_id": str,
            "user_id": str,
            "agent_type": str,
            "input": str,
            "labels": str,
            "locale": str,
            "config": str,
            "status": str,
            "lease_version": int,
            "worker_id": str,
            "heartbeat_at": str,
            "cancel_requested": int,
            "cancel_reason": str,
            "usage": str,
            "output": str,
            "error": str,
            "reason": str,
            "transcript": str,
            "created_at": str,
            "updated_at": str,
            "completed_at": str,
        },
        "run_id",
    ),
    "events": (
        {"run_id": str, "sequence": int, "type": str, "data": str, "ts": str},
        ("run_id", "sequence"),
    ),
    "checkpoints": (
        {"run_id": str, "version": int, "lease_version": int, "state": str, "created_at": str},
        ("run_id", "version"),
    ),
    "tools": ({"name": str, "spec": str, "http_endpoint": str}, "name"),
    "tool_results": (
        {
            "run_id": str,
            "idempotency_key": str,
            "tool_call_id": str,
            "name": str,
            "fingerprint": str,
            "status": str,
            "result": str,
            "created_at": str,
        },
        ("run_id", "idempotency_key"),
    ),
    "tool_executions": ({"name": str, "count": int}, "name"),
    "counters": ({"name": str, "value": int}, "name"),
    "spaces": (
        {"space_id": str, "custom_skills": str, "api_keys": str, "mcp_servers": str, "template_ids": str},
        "space_id",
    ),
}


def create_schema(db: sqlite_utils.Database) -> None:
    """Creates every table and index if missing; safe to call on an existing database."""
    for name, (columns, pk) in _TABLES.items():
        db.table(name).create(columns, pk=pk, if_not_exists=True)
    db.table("messages").create_index(["thread_id", "id"], if_not_exists=True)
    # history() finds where a run's own messages start; without this it scans every message ever written.
    db.table("messages").create_index(["run_id"], if_not_exists=True)
    db.table("runs").create_index(["space_id", "created_at"], if_not_exists=True)
