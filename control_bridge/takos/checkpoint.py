"""Our checkpoint (a RunState snapshot) inside Takos's engine-checkpoint envelope, and back.

The Worker checks the envelope, not the state: `session_id`/`loop_id` (1–128 chars) repeated inside
`state_json`, `current_node`, a `status` from its set and `execution_profile == "external_context"`. Our
snapshot rides in `state_json.agentContainer`; a checkpoint without it (written by another engine) is not
ours to resume and reads as absent.
"""

from __future__ import annotations

import hashlib
from typing import Any

GRAPH_ID = "agent-container"
OWN_KEY = "agentContainer"
ENVELOPE_VERSION = 1
STATUSES = {
    "pending": "running",
    "running": "running",
    "paused": "paused",
    "suspended": "paused",
    "failed": "failed",
    "canceled": "cancelled",
}
"""Our run status → the envelope's; `completed` has none (complete-run clears the checkpoint)."""


def short_id(value: str, limit: int = 128) -> str:
    """`value` when it fits, else a stable digest of it (the envelope's ids are at most 128 chars)."""
    if 0 < len(value) <= limit:
        return value
    return "sha256-" + hashlib.sha256(value.encode()).hexdigest()


def usage_of(state: dict[str, Any]) -> dict[str, int]:
    usage = state.get("usage") or {}

    def count(snake: str, camel: str) -> int:
        return max(0, int(usage.get(snake) or usage.get(camel) or 0))

    inputs = count("input_tokens", "inputTokens")
    return {
        "inputTokens": inputs,
        "outputTokens": count("output_tokens", "outputTokens"),
        "cachedInputTokens": min(inputs, count("cached_input_tokens", "cachedInputTokens")),
    }


def wrap(state: dict[str, Any], version: int, session_id: str) -> dict[str, Any] | None:
    """The envelope for `state` (RunState JSON), or None when its status has no envelope counterpart."""
    status = STATUSES.get(str(state.get("status", "running")))
    if status is None:
        return None
    session = short_id(session_id)
    loop = short_id(str(state.get("run_id", "")))
    return {
        "session_id": session,
        "loop_id": loop,
        "graph_id": GRAPH_ID,
        "checkpoint_version": version,
        "current_node": str(state.get("phase") or "planning")[:256],
        "status": status,
        "state_json": {
            "session_id": session,
            "loop_id": loop,
            "execution_profile": "external_context",
            OWN_KEY: {"envelopeVersion": ENVELOPE_VERSION, "version": version, "state": state},
        },
    }


def unwrap(checkpoint: dict[str, Any] | None) -> tuple[int, dict[str, Any]] | None:
    """(version, RunState JSON) from an envelope we wrote, else None."""
    if not isinstance(checkpoint, dict):
        return None
    inner = checkpoint.get("state_json")
    own = inner.get(OWN_KEY) if isinstance(inner, dict) else None
    if not isinstance(own, dict) or not isinstance(own.get("state"), dict):
        return None
    version = own.get("version")
    return (version if isinstance(version, int) and version > 0 else 1), own["state"]
