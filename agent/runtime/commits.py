"""The group-commit scheduler: a run's events and checkpoint, written together in one transaction.

Steps that are safe to repeat (model calls, side-effect-free local tools) end with `boundary()` and are
committed within COMMIT_LATENCY_S, grouped; before anything that cannot be repeated (a side effect, a remote
tool, waiting for a person, the end of the run) the loop calls `commit()`, which writes at once. The state
is a valid resume point at every await, so a timer-driven commit may land at any of them.
"""

from __future__ import annotations

import asyncio
import logging

from agent.events.log import RunLog
from agent.events.payloads import EventData
from agent.runtime.checkpoints import CheckpointStore
from agent.runtime.clock import ActiveClock
from agent.runtime.remote_checkpoints import RemoteCheckpoints
from agent.runtime.state import RunState

logger = logging.getLogger(__name__)

COMMIT_LATENCY_S = 0.05
"""Longest a run's events and checkpoint wait to be committed (and seen by readers) while it does only work
that is safe to repeat; the steps inside the window share one transaction."""


class CommitScheduler:
    def __init__(
        self,
        state: RunState,
        log: RunLog,
        checkpoints: CheckpointStore,
        clock: ActiveClock,
        remote: RemoteCheckpoints | None,
    ) -> None:
        self._state = state
        self._log = log
        self._checkpoints = checkpoints
        self._clock = clock
        self._remote = remote
        self._dirty = False
        """A step ended since the last checkpoint."""
        self._timer: asyncio.TimerHandle | None = None
        self._committing: asyncio.Task[None] | None = None
        """The commit the timer started (a commit in the loop's own task waits for it)."""
        self._writing = False

    def emit(self, payload: EventData, *, key: str | None = None) -> None:
        self._log.append(self._state.run_id, payload, key=key)
        if self._timer is None:
            self._commit_soon()

    def boundary(self) -> None:
        """End of a step that is safe to repeat: it is committed within COMMIT_LATENCY_S."""
        self._dirty = True
        if self._timer is None:
            self._commit_soon()

    async def commit(self) -> None:
        """Commits now: the checkpoint (if a step ended since the last one) with the run's events, then
        publishes them."""
        running = self._committing
        if running is not None and not running.done():
            await asyncio.wait((running,))  # (a failure there left everything pending for this one)
        await self._write()

    def stop(self) -> None:
        """Stops the timer (every way out of the loop commits first)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _commit_soon(self) -> None:
        self._timer = asyncio.get_running_loop().call_later(COMMIT_LATENCY_S, self._commit_due)

    def _commit_due(self) -> None:
        self._timer = None
        if self._writing:  # a commit is publishing: its successor waits, so the run's events stay in order
            self._commit_soon()
        else:
            self._committing = asyncio.create_task(self._write())
            self._committing.add_done_callback(self._committed)

    def _committed(self, task: asyncio.Task[None]) -> None:
        """A failed background commit rolled back and left everything pending: the next commit retries it
        (and, if it fails too before something irreversible, fails the run in the loop's own task)."""
        if not task.cancelled() and (exc := task.exception()) is not None:
            logger.warning(
                "commit of run %s failed (%s); retrying with the next one", self._state.run_id, exc
            )
            if self._timer is None:
                self._commit_soon()

    async def _write(self) -> None:
        self.stop()
        s = self._state
        self._writing = True
        try:
            checkpointed = self._dirty
            if checkpointed:
                self._dirty = False
                self._clock.account()
                s.last_sequence = self._log.last_sequence(s.run_id)
                self._checkpoints.save(s)
            try:
                await self._log.commit(s.run_id)
            except BaseException:
                if checkpointed:  # rolled back with the events: write it again next time
                    self._dirty = True
                    self._checkpoints.forget(s.run_id)
                raise
            if checkpointed and self._remote is not None:
                await self._remote.on_step(s)
        finally:
            self._writing = False
