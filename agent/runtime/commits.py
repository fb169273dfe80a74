"""The group-commit scheduler: a run's events and checkpoint, written together in one transaction.

Steps that are safe to repeat (model calls, side-effect-free local tools) end with `boundary()` and are
committed within COMMIT_LATENCY_S, grouped; before anything that cannot be repeated (a side effect, a remote
tool, waiting for a person, the end of the run) the loop calls `commit()`, which writes at once. The state
is a valid resume point at every await, so a timer-driven commit may land at any of them.
"""

from __future__ import annotations

import asyncio
import logging
import time

from agent.events.log import RunLog
from agent.events.payloads import EventData
from agent.runtime.checkpoints import CheckpointStore
from agent.runtime.clock import ActiveClock
from agent.runtime.remote_checkpoints import RemoteCheckpoints
from agent.runtime.signals import RunStopped
from agent.runtime.state import RunState
from agent.storage import FULL_MESSAGE, is_storage_full
from control_bridge.contract import RunErrorInfo

logger = logging.getLogger(__name__)

COMMIT_LATENCY_S = 0.05
"""Longest a run's events and checkpoint wait to be committed (and seen by readers) while it does only work
that is safe to repeat; the steps inside the window share one transaction."""


STORAGE_RETRY_MAX_S = 1.0
"""Longest pause between two tries of a commit while the disk is full."""


class StorageFull(RunStopped):
    """The run could not commit for the storage's wait: it is failed with the real cause (its terminal event
    is written as soon as space returns: later commits of this run wait for space without limit)."""

    def __init__(self, where: str, waited_s: float) -> None:
        message = f"{FULL_MESSAGE}: nothing could be written under {where} for {waited_s:.0f} s"
        super().__init__("failed", "storage_full", RunErrorInfo(kind="storage_full", message=message))


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
        self._gave_up = False
        """StorageFull was raised once: from then on commits wait for space without limit."""

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
        await self._write_waiting()

    def stop(self) -> None:
        """Stops the timer (every way out of the loop commits first)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _commit_soon(self, delay: float = COMMIT_LATENCY_S) -> None:
        self._timer = asyncio.get_running_loop().call_later(delay, self._commit_due)

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
            full = is_storage_full(exc)
            if not full:  # (a full disk is logged once per outage by the storage status)
                logger.warning(
                    "commit of run %s failed (%s); retrying with the next one", self._state.run_id, exc
                )
            if self._timer is None:
                self._commit_soon(STORAGE_RETRY_MAX_S if full else COMMIT_LATENCY_S)

    async def _write_waiting(self) -> None:
        """`_write`, tried again while the disk is full: nothing committed is lost and nothing buffered is
        dropped (a failed transaction leaves it all pending). After the storage's wait the run is failed
        once (StorageFull); a shutdown stops the waiting (the run resumes from its last commit)."""
        storage = self._log.db.storage
        started = time.monotonic()
        delay = COMMIT_LATENCY_S
        while True:
            try:
                await self._write()
                return
            except Exception as exc:
                if not is_storage_full(exc) or storage.closing:
                    raise
                waited = time.monotonic() - started
                if not self._gave_up and waited >= storage.wait_s:
                    self._gave_up = True
                    raise StorageFull(str(storage.path), waited) from None
            await asyncio.sleep(delay)
            delay = min(delay * 2, STORAGE_RETRY_MAX_S)

    async def _write(self) -> None:
        self.stop()
        s = self._state
        self._writing = True
        try:
            checkpointed = self._dirty
            try:
                if checkpointed:
                    self._dirty = False
                    self._clock.account()
                    s.last_sequence = self._log.last_sequence(s.run_id)
                    self._checkpoints.save(s)
                await self._log.commit(s.run_id)
            except BaseException as exc:
                if checkpointed:  # rolled back with the events: write it again next time
                    self._dirty = True
                    self._checkpoints.forget(s.run_id)
                self._log.db.failed(exc)  # (the save itself can hit a full disk, before the commit)
                self._log.db.rollback()  # (a no-op when the log's commit already rolled back)
                raise
            if checkpointed and self._remote is not None:
                await self._remote.on_step(s)
        finally:
            self._writing = False
