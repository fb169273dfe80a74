"""A run's bridge traffic through a control plane that drops, stalls, 503s and garbles a fraction of calls."""

from __future__ import annotations

from pathlib import Path

from control_bridge import contract as c
from control_bridge.client import RetryPolicy, RpcControlPlane
from control_bridge.embedded import EmbeddedControlPlane
from control_bridge.forwarder import EventForwarder
from control_bridge.server import create_app

from ._faults import FaultInjector
from ._server import serve_in_thread
from .conftest import TOKEN

STEPS = 12


async def _drive_run(rpc: RpcControlPlane, run_id: str) -> list[c.ToolsExecuteResult]:
    """What the run loop does over the bridge: bootstrap, tools, heartbeats, checkpoints, events, complete."""
    boot = await rpc.run_bootstrap(c.RunBootstrapParams(run_id=run_id, lease_version=1))
    await rpc.run_config(c.RunConfigParams(run_id=run_id, lease_version=1))
    await rpc.conversation_history(c.ConversationHistoryParams(run_id=run_id, lease_version=1))
    await rpc.tools_catalog(c.ToolsCatalogParams(run_id=run_id, lease_version=1))
    forwarder = EventForwarder(rpc, run_id, 1, max_batch=8, max_delay_s=0.002)
    sequence = 0

    async def emit(type_: str, **data: object) -> None:
        nonlocal sequence
        sequence += 1
        await forwarder.submit(c.EventRecord(sequence=sequence, type=type_, data=data))

    await emit("run.started", input=boot.input)
    results = []
    for step in range(1, STEPS + 1):
        call = c.ToolCall(id=f"call{step}", name="counter", arguments={"name": "deploys"})
        await emit("tool.scheduled", toolCallId=call.id)
        result = await rpc.tools_execute(
            c.ToolsExecuteParams(
                run_id=run_id, lease_version=1, tool_call=call, idempotency_key=f"{run_id}:{step}"
            )
        )
        results.append(result)
        await emit("tool.result", toolCallId=call.id, ok=result.error is None)
        await rpc.run_heartbeat(c.RunHeartbeatParams(run_id=run_id, lease_version=1))
        await rpc.run_checkpoint_save(
            c.RunCheckpointSaveParams(run_id=run_id, lease_version=1, version=step, state={"step": step})
        )
    await emit("assistant.message", text="deployed")
    await forwarder.flush()
    done = await rpc.run_complete(
        c.RunCompleteParams(run_id=run_id, lease_version=1, status="completed", output="deployed")
    )
    assert done.status == "completed"
    await emit("run.completed", output="deployed")
    await forwarder.aclose()
    return results


async def test_run_completes_exactly_once_through_faults(tmp_path: Path) -> None:
    plane = EmbeddedControlPlane(tmp_path / "cp.db")
    faulty = FaultInjector(create_app(tmp_path / "unused.db", TOKEN, control=plane), rate=0.3, seed=11)
    run = await plane.create_run({"input": "deploy twelve times", "runId": "run-faults"})
    with serve_in_thread(faulty) as base:
        rpc = RpcControlPlane(
            base + "/rpc",
            TOKEN,
            retry=RetryPolicy(max_attempts=20, base_delay_s=0.001, max_delay_s=0.01),
            timeouts={"tools.execute": 0.4},
            default_timeout_s=0.4,
        )
        results = await _drive_run(rpc, run.run_id)
        await rpc.aclose()

    assert sum(faulty.injected.values()) >= 10, faulty.injected
    assert {"drop_after", "garbage_after", "status_503"} <= set(faulty.injected), faulty.injected
    # the counter is the tool's own side effect: it ran exactly once per step, and every answer is consistent
    assert await plane.tool_execution_count("counter") == STEPS
    assert [r.output["value"] for r in results] == list(range(1, STEPS + 1))
    events = await plane.events(run.run_id)
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    assert len(events) == 2 * STEPS + 3 and events[-1].type == "run.completed"
    record = await plane.get_run(run.run_id)
    assert (record.status, record.output) == ("completed", "deployed")
    await plane.aclose()
