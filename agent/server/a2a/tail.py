"""Reading a run's events from the durable run log into a TaskFold: all at once, or following new ones."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from agent.events.log import RunLog
from agent.server.a2a.mapping import TERMINAL_STATES, StreamEvent, TaskFold

PAGE = 500
WAKE_S = 5.0
"""Re-read at least this often while waiting (a commit always wakes the waiter sooner)."""


class RunLogTail:
    def __init__(self, log: RunLog) -> None:
        self.log = log

    def fold_all(self, fold: TaskFold, *, until: int | None = None) -> None:
        """Folds every committed event (up to `until`) into `fold`."""
        while True:
            events = self.log.read(fold.task_id, after=fold.last_sequence, limit=PAGE)
            for event in events:
                if until is not None and event.sequence > until:
                    return
                fold.apply(event)
            if len(events) < PAGE:
                return

    async def follow(
        self, fold: TaskFold, run_id: str, *, terminal_only: bool = False
    ) -> AsyncIterator[StreamEvent]:
        """Yields the A2A events of the run's next committed events until the fold closes (with
        `terminal_only`, as a subscription does, an interrupted state does not end it)."""
        while not fold.closed or (terminal_only and not fold.terminal):
            waiter = self.log.waiter(run_id)
            events = self.log.read(run_id, after=fold.last_sequence, limit=PAGE)
            for event in events:
                for out in fold.apply(event):
                    yield out
                if fold.closed and (fold.terminal or not terminal_only):
                    return
            if events:
                continue
            try:
                await asyncio.wait_for(waiter.wait(), WAKE_S)
            except TimeoutError:
                pass

    async def wait_closed(self, fold: TaskFold, run_id: str, *, terminal: bool = False) -> None:
        """Folds until the task is terminal or (unless `terminal`) interrupted."""
        while True:
            async for _ in self.follow(fold, run_id):
                pass
            if not terminal or fold.state in TERMINAL_STATES:
                return
            fold.closed = False
            await asyncio.sleep(0)
