"""Run events: what the run log stores and every stream (SSE, run.events, bridge, hook bus) is made from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from control_bridge.wire import utc_iso

TERMINAL_TYPES: frozenset[str] = frozenset({"run.completed", "run.failed", "run.canceled"})

PROFILES: dict[str, frozenset[str] | None] = {
    # chat: what a person watching the run needs.
    "chat": frozenset(
        {
            "run.started",
            "phase.changed",
            "assistant.delta",
            "assistant.message",
            "tool.scheduled",
            "tool.result",
            "tool.progress",
            "await.confirmation",
            "await.clarification",
            "tool.authorization",
            "run.suspended",
            "run.paused",
            "run.resumed",
            "child_run.linked",
            *TERMINAL_TYPES,
        }
    ),
    # metrics: numbers only.
    "metrics": frozenset({"usage", "policy.decision", "prompt.rendered", "phase.changed", *TERMINAL_TYPES}),
    # debug: everything.
    "debug": None,
}


@dataclass(slots=True)
class Event:
    """One logged event, never changed once made. A plain slotted dataclass (not frozen: a frozen one's
    __init__ is twice as slow, and tens of thousands are made per second on the hot path)."""

    run_id: str
    sequence: int
    key: str
    type: str
    data: dict[str, Any]
    ts: float
    """Epoch seconds, kept as a float in the log; on the wire it is `time`, an RFC 3339 UTC string."""

    @property
    def terminal(self) -> bool:
        return self.type in TERMINAL_TYPES

    def wire(self) -> dict[str, Any]:
        return {
            "runId": self.run_id,
            "sequence": self.sequence,
            "type": self.type,
            "time": utc_iso(self.ts),
            "data": self.data,
        }


def profile_types(profile: str) -> frozenset[str] | None:
    """The event types a profile selects (None = all). Unknown profiles are a ValueError."""
    if profile not in PROFILES:
        raise ValueError(f"unknown stream profile {profile!r}; use one of {', '.join(PROFILES)}")
    return PROFILES[profile]
