"""agent.eager: gather's and asyncio.timeout's semantics without tasks or timers for calls that never wait."""

from __future__ import annotations

import asyncio

import pytest

from agent.eager import bounded, run_concurrently


async def waits_for_cancel(cancelled: asyncio.Event) -> None:
    try:
        await asyncio.sleep(5)
    except asyncio.CancelledError:
        cancelled.set()
        raise


async def test_calls_that_never_wait_make_no_task() -> None:
    seen: list[int] = []

    async def instant(i: int) -> int:
        seen.append(len(asyncio.all_tasks()))
        return i * 10

    before = len(asyncio.all_tasks())
    assert await run_concurrently([instant(i) for i in range(4)]) == [0, 10, 20, 30]
    assert seen == [before] * 4


async def test_once_a_call_waits_the_rest_overlap_with_it() -> None:
    started: list[int] = []
    everyone = asyncio.Event()

    async def meet(i: int) -> int:
        started.append(i)
        if len(started) == 3:
            everyone.set()
        await asyncio.wait_for(everyone.wait(), 2)  # times out if run one after the other
        return i

    assert await run_concurrently([meet(i) for i in range(3)]) == [0, 1, 2]
    assert started == [0, 1, 2]


async def test_a_timeout_inside_the_inline_call_cancels_only_that_call() -> None:
    async def slow() -> str:
        try:
            async with asyncio.timeout(0.05):
                await asyncio.sleep(5)
        except TimeoutError:
            return "timed out"
        return "finished"

    async def quick() -> str:
        await asyncio.sleep(0.01)
        return "quick"

    assert await asyncio.wait_for(run_concurrently([slow(), quick()]), 2) == ["timed out", "quick"]


async def test_a_failure_cancels_the_calls_still_running() -> None:
    cancelled = asyncio.Event()

    async def fails() -> None:
        await asyncio.sleep(0.01)
        raise KeyError("boom")

    with pytest.raises(KeyError):
        await run_concurrently([fails(), waits_for_cancel(cancelled)])
    await asyncio.wait_for(cancelled.wait(), 1)


async def test_a_failure_before_anything_waited_closes_the_unstarted_calls() -> None:
    async def fails() -> None:
        raise KeyError("boom")

    async def never() -> None:
        raise AssertionError("must not run")

    unstarted = never()
    with pytest.raises(KeyError):
        await run_concurrently([fails(), unstarted])
    assert unstarted.cr_frame is None  # closed, not left to warn "never awaited"


async def test_bounded_returns_raises_and_times_out_like_asyncio_timeout() -> None:
    async def instant() -> str:
        return "now"

    async def later() -> str:
        await asyncio.sleep(0.01)
        return "later"

    async def broken() -> str:
        raise KeyError("boom")

    async def hangs() -> str:
        await asyncio.sleep(5)
        return "never"

    assert await bounded(instant(), 0.5) == "now"
    assert await bounded(later(), 0.5) == "later"
    with pytest.raises(KeyError):
        await bounded(broken(), 0.5)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(bounded(hangs(), 0.05), 2)


async def test_bounded_call_is_cancelled_with_its_task() -> None:
    cancelled = asyncio.Event()

    task = asyncio.create_task(bounded(waits_for_cancel(cancelled), 10))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cancelled.is_set()
