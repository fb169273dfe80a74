"""Control-flow signals of the run loop: raised to leave a step, never errors a client sees."""

from __future__ import annotations

from typing import TYPE_CHECKING

from control_bridge.contract import RunErrorInfo, TerminalStatus

if TYPE_CHECKING:
    from agent.runtime.state import PendingAwait


class RunDetached(Exception):
    """The process is shutting down: the run stops at a boundary, checkpointed, and resumes elsewhere by
    lease (not a terminal state)."""


class RunStopped(Exception):
    """The run stops now with this status and reason."""

    def __init__(self, status: TerminalStatus, reason: str, error: RunErrorInfo | None = None) -> None:
        super().__init__(reason)
        self.status: TerminalStatus = status
        self.reason = reason
        self.error = error


class AwaitRequired(Exception):
    """Tool admission: this call waits for a person (a confirmation or a clarification) before it runs."""

    def __init__(self, pending: PendingAwait) -> None:
        super().__init__(pending.await_id)
        self.pending = pending
