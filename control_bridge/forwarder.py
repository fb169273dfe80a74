"""Forwards a run's events to the control plane in ordered batches, one RPC in flight at a time.

Batches are bounded by size (`max_batch`) and latency (`max_delay_s` after the oldest unsent event). A failed
batch stays at the head of the queue and is sent again, possibly grown with newer events but never reordered;
the peer de-duplicates on (runId, sequence), so a batch that did land before the failure is harmless.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from itertools import islice

from control_bridge import contract as c
from control_bridge.errors import BridgeError, RateLimited
from control_bridge.protocol import ControlPlaneBase
from control_bridge.retrying import RetryPolicy, Sleep

logger = logging.getLogger(__name__)


class EventForwarder:
    """Batches `EventRecord`s for one run. `submit` only enqueues; `flush` waits until the peer has them.

    Transient failures (any error whose class is retryable, or an unexpected exception) are retried forever
    with capped backoff; a permanent one (lease lost, unauthorized, invalid) stops the forwarder, drops the
    queue and is raised from `submit`, `flush` and `aclose`.
    """

    def __init__(
        self,
        control: ControlPlaneBase,
        run_id: str,
        lease_version: int = 0,
        *,
        max_batch: int = 500,
        max_delay_s: float = 0.05,
        max_buffer: int = 50_000,
        retry_base_s: float = 0.05,
        retry_max_s: float = 2.0,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if max_batch < 1 or max_buffer < max_batch:
            raise ValueError("need 1 <= max_batch <= max_buffer")
        self.control = control
        self.run_id = run_id
        self.lease_version = lease_version
        self.max_batch = max_batch
        self.max_delay_s = max_delay_s
        self.max_buffer = max_buffer
        self.retry = RetryPolicy(max_attempts=None, base_delay_s=retry_base_s, max_delay_s=retry_max_s)
        """Unbounded: a transient failure never drops events; a permanent one stops the forwarder."""
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._buffer: deque[c.EventRecord] = deque()
        self._arrivals: deque[float] = deque()
        self._submitted = 0
        self._acked = 0
        self._flush_target = 0
        self._wake = asyncio.Event()
        self._progress = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self._error: BridgeError | None = None
        self.batches_sent = 0
        """Successful append RPCs (observability and tests)."""

    @property
    def error(self) -> BridgeError | None:
        """The permanent error that stopped forwarding, if any."""
        return self._error

    @property
    def pending(self) -> int:
        return len(self._buffer)

    async def submit(self, event: c.EventRecord) -> None:
        """Queues one event (callers submit in sequence order); waits only when `max_buffer` is reached."""
        if self._error is not None:
            raise self._error
        if len(self._buffer) >= self.max_buffer:
            async with self._progress:
                await self._progress.wait_for(lambda: len(self._buffer) < self.max_buffer or self._error)
            if self._error is not None:
                raise self._error
        self._arrivals.append(asyncio.get_running_loop().time())
        self._buffer.append(event)
        self._submitted += 1
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"forward-events-{self.run_id}"
            )
        if len(self._buffer) == 1 or len(self._buffer) >= self.max_batch:
            self._wake.set()

    async def flush(self) -> None:
        """Returns once every event submitted so far is stored by the peer; raises the permanent error."""
        target = self._submitted
        if self._acked >= target and self._error is None:
            return
        self._flush_target = max(self._flush_target, target)
        self._wake.set()
        async with self._progress:
            await self._progress.wait_for(lambda: self._acked >= target or self._error is not None)
        if self._error is not None:
            raise self._error

    async def aclose(self) -> None:
        """Flushes, then stops the background task."""
        try:
            await self.flush()
        finally:
            if self._task is not None:
                self._task.cancel()
                await asyncio.gather(self._task, return_exceptions=True)
                self._task = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        failures = 0
        while True:
            if not self._buffer:
                self._wake.clear()
                await self._wake.wait()
                continue
            urgent = len(self._buffer) >= self.max_batch or self._flush_target > self._acked
            wait = self._arrivals[0] + self.max_delay_s - loop.time()
            if not urgent and wait > 0:
                self._wake.clear()
                try:
                    async with asyncio.timeout(wait):  # (wait_for would spawn a task per wake-up)
                        await self._wake.wait()
                except TimeoutError:
                    pass
                continue
            batch = list(islice(self._buffer, self.max_batch))
            params = c.RunEventsAppendParams(
                run_id=self.run_id, lease_version=self.lease_version, events=batch
            )
            try:
                await self.control.run_events_append(params)
            except BridgeError as exc:
                if not exc.retryable:
                    await self._fail(exc)
                    return
                failures += 1
                await self._backoff(failures, exc)
                continue
            except Exception as exc:  # unexpected transport trouble: keep the events and try again
                failures += 1
                await self._backoff(failures, exc)
                continue
            failures = 0
            self.batches_sent += 1
            for _ in batch:
                self._buffer.popleft()
                self._arrivals.popleft()
            self._acked += len(batch)
            async with self._progress:
                self._progress.notify_all()

    async def _backoff(self, failures: int, exc: BaseException) -> None:
        retry_after = exc.retry_after if isinstance(exc, RateLimited) else None
        delay = self.retry.delay(failures, self._rng, retry_after)
        if delay is None:  # (unreachable with an unbounded, clamping policy; never spin)
            delay = self.retry.max_delay_s
        logger.warning("event forwarding for %s failed (%s); retrying in %.2fs", self.run_id, exc, delay)
        await self._sleep(delay)

    async def _fail(self, exc: BridgeError) -> None:
        logger.error("event forwarding for %s stopped: %s", self.run_id, exc.name)
        self._error = exc
        self._buffer.clear()
        self._arrivals.clear()
        async with self._progress:
            self._progress.notify_all()
