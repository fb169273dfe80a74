"""Awaiting coroutines without paying for tasks and timers that calls which never wait do not need.

Most local tools (and scripted models) answer without ever waiting; gather would still make a task per call
and go around the event loop for each, and asyncio.timeout would still schedule and cancel a timer. Here a
call first runs in the caller's task until it first waits (as Python 3.12's eager tasks do); only a call
that waits gets its timer, and the calls after it their tasks. The call that waits stays in the caller's
task, so `asyncio.current_task()` (and with it `asyncio.timeout`) means what it means with a plain `await`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Generator, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


async def bounded(coro: Coroutine[Any, Any, T], seconds: float) -> T:
    """`async with asyncio.timeout(seconds): return await coro`, with no timer if coro never waits."""
    try:
        yielded = coro.send(None)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    async with asyncio.timeout(seconds):
        return await _Resume(coro, yielded)  # type: ignore[no-any-return]


async def run_concurrently(coros: Sequence[Coroutine[Any, Any, T]]) -> list[T]:
    """Results in the given order. A failure cancels the calls still running and re-raises."""
    results: list[T] = []
    tasks: list[asyncio.Task[T]] = []
    try:
        for i, coro in enumerate(coros):
            try:
                yielded = coro.send(None)
            except StopIteration as stop:
                results.append(stop.value)
                continue
            loop = asyncio.get_running_loop()
            tasks.extend(loop.create_task(rest) for rest in coros[i + 1 :])
            results.append(await _Resume(coro, yielded))
            break
        for task in tasks:
            results.append(await task)
    except BaseException:
        for task in tasks:
            task.cancel()
        if not tasks:
            for coro in coros[len(results) + 1 :]:
                coro.close()  # never started
        raise
    return results


class _Resume:
    """Awaiting it finishes `coro`, which has already run up to yielding `yielded`, in the current task:
    the rest of a plain `await coro` (delegation exactly as `yield from` does it, PEP 380)."""

    __slots__ = ("_coro", "_yielded")

    def __init__(self, coro: Coroutine[Any, Any, Any], yielded: Any) -> None:
        self._coro = coro
        self._yielded = yielded

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, yielded = self._coro, self._yielded
        while True:
            try:
                sent = yield yielded
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:
                try:
                    yielded = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    yielded = coro.send(sent)
                except StopIteration as stop:
                    return stop.value
