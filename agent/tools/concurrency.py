"""Running a batch of coroutines concurrently without paying for tasks the batch never needed.

Most local tools answer without ever waiting; gather would still make a task per call and go around the
event loop for each. Here each call runs in the caller's task until it first waits (as Python 3.12's eager
tasks do), and only then are the calls after it started as tasks. The call that waits stays in the caller's
task, so `asyncio.current_task()` (and with it `asyncio.timeout`) means the same as with a plain `await`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Generator, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


async def run_concurrently(coros: Sequence[Coroutine[Any, Any, T]]) -> list[T]:
    """Results in the given order. A failure cancels the calls still running and re-raises."""
    results: list[T] = []
    tasks: list[asyncio.Task[T]] = []

    def start_the_rest() -> None:
        loop = asyncio.get_running_loop()
        tasks.extend(loop.create_task(coro) for coro in coros[len(results) + 1 :])

    try:
        for coro in coros:
            results.append(await _Inline(coro, start_the_rest))
            if tasks:
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


class _Inline:
    """Awaits `coro` in the current task like `await coro`, calling `on_wait` the first time it waits."""

    __slots__ = ("_coro", "_on_wait")

    def __init__(self, coro: Coroutine[Any, Any, T], on_wait: Callable[[], None]) -> None:
        self._coro = coro
        self._on_wait = on_wait

    def __await__(self) -> Generator[Any, Any, Any]:
        coro = self._coro
        try:
            yielded = coro.send(None)
        except StopIteration as stop:
            return stop.value
        try:
            self._on_wait()
        except BaseException:
            coro.close()
            raise
        while True:  # delegate exactly as `yield from` does (PEP 380)
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
