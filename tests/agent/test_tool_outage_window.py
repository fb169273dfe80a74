"""The outage window of a remote tool call, against a loopback port nobody listens on (real refused connects)."""

from __future__ import annotations

import asyncio
import time

import pytest

from agent.tools.registry import RemoteToolAdapter
from agent.tools.spec import ToolCallContext, ToolFailure
from control_bridge import contract as c
from control_bridge.client import RetryPolicy, RpcControlPlane
from tests.support import free_port

CTX = ToolCallContext(run_id="run_1", session_id="s", turn_id=1, tool_call_id="call_1", step=3)


async def _fail(window_s: float) -> tuple[ToolFailure, float, int]:
    plane = RpcControlPlane(f"http://127.0.0.1:{free_port()}/rpc", "t", retry=RetryPolicy(max_attempts=1))
    adapter = RemoteToolAdapter(c.RemoteTool(name="counter"), plane, outage_window_s=window_s)
    started = time.monotonic()
    try:
        with pytest.raises(ToolFailure) as caught:
            await adapter.execute({"name": "x"}, CTX)
    finally:
        await plane.aclose()
    return caught.value, time.monotonic() - started, plane.attempts


def test_the_window_bounds_the_retrying_and_names_the_outage() -> None:
    failure, took, attempts = asyncio.run(_fail(1.0))
    assert 1.0 <= took < 3.0, took  # the whole window is used: the last wait is cut to its end, not skipped
    assert attempts > 2  # the same call re-sent through the outage, not given up after the client's burst
    assert failure.kind == "unavailable" and failure.hint == "finish"
    assert "unreachable for 1 s" in failure.message and "could not be made" in failure.message


def test_a_zero_window_fails_at_once() -> None:
    failure, took, attempts = asyncio.run(_fail(0.0))
    assert took < 0.5 and attempts == 1, (took, attempts)
    assert failure.kind == "unavailable" and "could not be reached" in failure.message
