"""The one typed tool failure: raised by local tools (agent, memory, skills) and by the remote tool adapter.

It lives at the bottom layer so that `memory` and `skills` raise the very type the loop catches, instead of
look-alike classes matched by their attributes. Its `kind` is the contract's `ToolFailureKind` (remote tools
report theirs with the same kinds); the `hint` tells the model what to do next.
"""

from __future__ import annotations

from typing import get_args

from control_bridge.contract import RecoveryHint, ToolFailureKind

__all__ = ["DEFAULT_HINTS", "FAILURE_KINDS", "RecoveryHint", "ToolFailure", "ToolFailureKind"]

FAILURE_KINDS: frozenset[str] = frozenset(get_args(ToolFailureKind))

DEFAULT_HINTS: dict[str, RecoveryHint] = {
    "invalid_call": "correct_call",
    "unknown_tool": "replan",
    "domain_rejection": "replan",
    "unavailable": "replan",
    "rate_limited": "replan",
    "timeout": "replan",
    "malformed_result": "replan",
    "internal": "replan",
}


class ToolFailure(Exception):
    """A typed tool failure; goes back to the model as a tool result with a recovery hint.

    Args:
        kind: one of `FAILURE_KINDS` (anything else is a bug in the tool: ValueError).
        message: what went wrong, written for the model.
        hint: the recovery hint; by default the kind's (`DEFAULT_HINTS`).
    """

    def __init__(self, kind: ToolFailureKind, message: str, hint: RecoveryHint | None = None) -> None:
        if kind not in FAILURE_KINDS:
            raise ValueError(
                f"unknown tool failure kind {kind!r}; use one of {', '.join(sorted(FAILURE_KINDS))}"
            )
        super().__init__(message)
        self.kind: ToolFailureKind = kind
        self.message = message
        self.hint: RecoveryHint = hint or DEFAULT_HINTS[kind]
