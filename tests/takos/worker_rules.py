"""The Takos Worker's payload rules, written from CONTRACT.md §6, §9 and §10 (not from Takos's code).

Each function answers None when the payload is acceptable, else the Worker's error message.
"""

from __future__ import annotations

import json
from typing import Any

SAFE_MAX = 2**53 - 1
RUN_EVENT_TYPES = frozenset(
    "user assistant system tool thinking tool_call tool_result message completed error progress started "
    "cancelled".split()
)
CHECKPOINT_STATUSES = frozenset({"running", "paused", "failed", "timed_out", "cancelled"})


def safe_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= SAFE_MAX


def nbytes(value: Any) -> int:
    return len((value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))).encode())


def json_bounds(root: Any, max_nodes: int, max_depth: int) -> bool:
    stack = [(root, 0)]
    nodes = 0
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if nodes > max_nodes or depth > max_depth:
            return False
        if isinstance(value, float) and value != value:
            return False
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
    return True


def run_event(body: dict[str, Any]) -> tuple[int, str] | None:
    data, seq = body.get("data"), body.get("sequence")
    if (
        not body.get("runId")
        or body.get("type") not in RUN_EVENT_TYPES
        or not isinstance(data, dict)
        or not safe_int(seq)
    ):
        return 400, "Invalid run event payload"
    if body.get("serviceId") and not safe_int(body.get("leaseVersion")):
        return 400, "Invalid run event lease"
    if not json_bounds(data, 4096, 32):
        return 400, "Run event data is too complex"
    full = {**data, "_sequence": seq, "_leaseVersion": body.get("leaseVersion")}
    if nbytes(full) > 64 * 1024:
        return 413, "Run event data is too large"
    return None


def checkpoint(value: Any) -> bool:
    if not isinstance(value, dict) or not json_bounds(value, 50_000, 64):
        return False
    state = value.get("state_json")
    for key, limit in (("session_id", 128), ("loop_id", 128), ("current_node", 256)):
        item = value.get(key)
        if not isinstance(item, str) or not 1 <= len(item) <= limit:
            return False
    if value.get("status") not in CHECKPOINT_STATUSES or not isinstance(state, dict):
        return False
    return (
        state.get("session_id") == value["session_id"]
        and state.get("loop_id") == value["loop_id"]
        and state.get("execution_profile") == "external_context"
    )


def checkpoint_usage(value: Any) -> bool:
    if not isinstance(value, dict):
        return False
    i, o, cached = value.get("inputTokens"), value.get("outputTokens"), value.get("cachedInputTokens")
    return safe_int(i) and safe_int(o) and safe_int(cached) and cached <= i  # type: ignore[operator]


def transcript(value: Any) -> bool:
    """§10's transcript rules."""
    if not isinstance(value, list) or len(value) > 256:
        return False
    pending: set[str] = set()
    seen: set[str] = set()
    total = 0
    for item in value:
        total += 32
        if not isinstance(item, dict) or item.get("role") not in ("assistant", "tool"):
            return False
        content = item.get("content")
        if not isinstance(content, str) or nbytes(content) > 512 * 1024:
            return False
        total += nbytes(content)
        if "metadata" in item:
            meta = item["metadata"]
            if not isinstance(meta, dict) or not json_bounds(meta, 4096, 32) or nbytes(meta) > 64 * 1024:
                return False
            total += nbytes(meta)
        call_id = item.get("tool_call_id")
        if item["role"] == "tool":
            if "tool_calls" in item or not isinstance(call_id, str) or len(call_id) > 256:
                return False
            if call_id not in pending:
                return False
            pending.discard(call_id)
        elif pending or "tool_call_id" in item:
            return False
        if "tool_calls" in item:
            calls = item["tool_calls"]
            if not isinstance(calls, list) or len(calls) > 16:
                return False
            for call in calls:
                if not isinstance(call, dict):
                    return False
                cid, name, args = call.get("id"), call.get("name"), call.get("arguments")
                if not isinstance(cid, str) or not 1 <= len(cid) <= 256:
                    return False
                if not isinstance(name, str) or not 1 <= len(name) <= 256:
                    return False
                if not isinstance(args, dict) or not json_bounds(args, 4096, 32) or nbytes(args) > 256 * 1024:
                    return False
                if cid in seen:
                    return False
                seen.add(cid)
                pending.add(cid)
                total += nbytes(cid) + nbytes(name) + nbytes(args) + 24
        if total > 8 * 1024 * 1024:
            return False
    return not pending


def complete_run(body: dict[str, Any]) -> str | None:
    """The first failing reason, in the Worker's order (before the lease fence), or None."""
    usage = body.get("usage")
    if not body.get("runId"):
        return "run_id"
    if not body.get("serviceId"):
        return "service_id"
    if body.get("status") not in ("completed", "failed"):
        return "status"
    if not isinstance(usage, dict) or not usage:
        return "usage"
    if not safe_int(usage.get("inputTokens")):
        return "input_tokens"
    if not safe_int(usage.get("outputTokens")):
        return "output_tokens"
    cached = usage.get("cachedInputTokens")
    if cached is not None and (not safe_int(cached) or cached > usage["inputTokens"]):
        return "cached_input_tokens"
    if not safe_int(body.get("leaseVersion")):
        return "lease_version"
    if not transcript(body.get("messages")):
        return "transcript"
    return None


def complete_run_sizes(body: dict[str, Any]) -> str | None:
    output, error = body.get("output"), body.get("error")
    if isinstance(output, str) and nbytes(output) > 512 * 1024:
        return "output_size"
    if isinstance(error, str) and nbytes(error) > 64 * 1024:
        return "error_size"
    return None
