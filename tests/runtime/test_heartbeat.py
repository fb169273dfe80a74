"""The heartbeat reaches the control plane while the loop waits, and carries a cancel back into it."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from agent.models.scripted import Script, ScriptedModel
from tests.runtime.harness import assert_one_terminal_last


async def test_a_cancel_flagged_at_the_control_plane_stops_a_long_model_call(harness_factory: Any) -> None:
    model = ScriptedModel(Script.model_validate({"turns": [{"text": "too late", "delay_ms": 5000}]}))
    h = harness_factory(model)  # heartbeat every 0.2 s
    run_id = await h.start()
    await asyncio.sleep(0.05)
    await h.control.request_cancel(run_id, "user_requested")
    started = time.monotonic()
    state = await h.wait(run_id, timeout=5)
    assert state.status == "canceled" and state.reason == "user_requested"
    assert time.monotonic() - started < 2  # the heartbeat brought it, not the end of the 5 s call
    assert_one_terminal_last(h.events(run_id))
    assert (await h.control.get_run(run_id)).status == "canceled"
