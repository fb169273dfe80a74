"""run.heartbeat on a timer while a loop runs: a timer, and a task only while a beat is in flight (most runs
end before the first beat is due)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


class Heartbeat:
    def __init__(self, beat: Callable[[], Awaitable[bool]], interval_s: float) -> None:
        """`beat` returns False once the lease is lost: no more beats after that."""
        self._beat = beat
        self._interval_s = interval_s
        self._task: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._arm()

    def _arm(self) -> None:
        self._timer = asyncio.get_running_loop().call_later(self._interval_s, self._due)

    def _due(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        if await self._beat():
            self._arm()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._task is not None:
            self._task.cancel()
