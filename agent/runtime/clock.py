"""The run's active-time clock: the time budget counts only while the run works, not while it waits."""

from __future__ import annotations

import time

from agent.runtime.state import RunState


class ActiveClock:
    """Adds active time to `state.active_ms` whenever it is accounted (at each checkpoint); sub-millisecond
    remainders are carried, so many short steps do not round the budget away."""

    def __init__(self, state: RunState) -> None:
        self._state = state
        self._since: float | None = None
        self._carry_ms = 0.0

    @property
    def running(self) -> bool:
        return self._since is not None

    def start(self) -> None:
        self._since = time.monotonic()

    def stop(self) -> None:
        self.account()
        self._since = None

    def account(self) -> None:
        since = self._since
        if since is None:
            return
        now = time.monotonic()
        elapsed = (now - since) * 1000 + self._carry_ms
        whole = int(elapsed)
        self._carry_ms = elapsed - whole
        self._state.active_ms += whole
        self._since = now

    def remaining_s(self) -> float:
        since = self._since
        active_s = (self._state.active_ms + self._carry_ms) / 1000
        if since is not None:
            active_s += time.monotonic() - since
        return self._state.policy.time_budget_s - active_s
