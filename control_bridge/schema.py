"""The contract as JSON Schema (`agent contract --json`), generated from the pydantic models.

Params schemas are in validation mode (what a caller may send), results in serialization mode (what the peer
answers), both with camelCase names, so a control plane written in any language can check itself against it.
"""

from __future__ import annotations

from typing import Any

from control_bridge import contract as c
from control_bridge.errors import ERRORS_BY_CODE

_RUN_SCOPED = ["invalid", "unauthorized", "not_found", "lease_lost", "conflict"]
METHOD_ERRORS: dict[str, list[str]] = {name: list(_RUN_SCOPED) for name in c.METHODS}
"""Application errors each method may raise (besides rate_limited / unavailable, which any call may get).
lease_lost: the call's leaseVersion (> 0) is older than the run's; conflict: a lease never granted, plus the
per-method cases in METHOD_NOTES."""

METHOD_NOTES: dict[str, str] = {
    "run.bootstrap": "moves a pending run to running; a terminal status is reported as is",
    "conversation.history": "messages of the run's thread written before this run began",
    "tools.execute": "de-duplicated on (runId, idempotencyKey): the same key returns the recorded result with "
    "replayed=true and never runs the tool again; the same key with other arguments → conflict; a terminal "
    "run → conflict; tool failures are results with error.kind, not JSON-RPC errors",
    "run.heartbeat": "ok=false once the run is terminal; cancelRequested reports the cancel flag",
    "run.events.append": "de-duplicated on (runId, sequence); allowed after run.complete",
    "run.checkpoint.save": "versions move forward under one lease (going back → conflict); a newer lease may "
    "rewind; saving the same version again replaces it",
    "run.complete": "atomic (record + assistant message into the thread); a terminal run is never overwritten "
    "(alreadyCompleted=true, the stored status is returned)",
    "secrets.apiKeys": "provider keys of the run's space; never logged",
}


def _schemas(table: dict[str, tuple[type[c.WireModel], type[c.WireModel]]]) -> dict[str, Any]:
    return {
        name: {
            "params": params.model_json_schema(by_alias=True, mode="validation"),
            "result": result.model_json_schema(by_alias=True, mode="serialization"),
        }
        for name, (params, result) in table.items()
    }


def contract_json_schema() -> dict[str, Any]:
    """Every method's params and result schema, the error codes, and the admin surface of the reference
    control plane (kept apart: a real platform need not offer it)."""
    methods = _schemas(c.METHODS)
    for name, entry in methods.items():
        entry["errors"] = METHOD_ERRORS[name]
        if name in METHOD_NOTES:
            entry["description"] = METHOD_NOTES[name]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "agent container ↔ control plane contract (JSON-RPC 2.0)",
        "transport": {
            "endpoint": "POST <CONTROL_RPC_URL> with a JSON-RPC 2.0 body",
            "headers": {
                "Authorization": "Bearer <token>",
                "X-Run-Id": "the run the call is about",
                "Idempotency-Key": "tools.execute only; equals params.idempotencyKey",
            },
        },
        "errors": {
            cls.name: {"code": code, "retryable": cls.retryable} for code, cls in ERRORS_BY_CODE.items()
        },
        "methods": methods,
        "adminMethods": _schemas(c.ADMIN_METHODS),
    }
