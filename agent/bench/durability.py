"""`agent bench durability`: checkpoint write cost per step, and recovery time after `kill -9`.

Checkpoint cost: `CheckpointStore.save` + `LocalDB.commit` on a transcript that grows like a real run's
(an assistant turn with two tool calls, then a tool message with two results, alternately); bytes are
measured in the database after each save, so a flat per-step figure means linear total growth.

Recovery: `agent serve --dev` on a temp DATA_DIR runs a scripted run whose tool turns use the embedded
control plane's `counter` tool; once `run.get` shows the wanted number of completed steps (the next model
turn hangs), the server is killed with SIGKILL. The control plane grants a new lease, a new server starts
on the same DATA_DIR and gets `POST /start {runId, leaseVersion}`; recovery_s is the new process's start
to the run's completion. The counter proves no tool ran twice.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from agent.bench.startup import free_port


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--steps", type=int, default=400, help="checkpoint saves on the growing transcript")
    parser.add_argument("--recovery-steps", type=int, default=50, help="completed steps before kill -9")
    parser.add_argument("--no-recovery", action="store_true", help="skip the kill -9 recovery measurement")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds allowed for each server phase")
    parser.add_argument(
        "--memory-embedder",
        choices=["minilm", "hash"],
        default=None,
        help="MEMORY_EMBEDDER for the servers (default: the server's own default, as in production)",
    )


# --- checkpoint cost --------------------------------------------------------------------------------------
def _turn_messages(i: int) -> list[Any]:
    from agent.models.types import Message, Part, TextPart, ToolResultPart, ToolUsePart

    text = f"Step {i}: I will look up the two sources and compare them before answering. " * 4
    calls = [
        ToolUsePart(id=f"call_{i}_{k}", name="search", arguments={"query": f"topic {i} part {k}", "limit": 5})
        for k in range(2)
    ]
    results: list[Part] = [
        ToolResultPart(
            tool_use_id=call.id, content=json.dumps({"hits": [f"result {i}.{k}.{j} " * 8 for j in range(5)]})
        )
        for k, call in enumerate(calls)
    ]
    return [
        Message(role="assistant", parts=[TextPart(text=text), *calls]),
        Message(role="tool", parts=results),
    ]


def checkpoint_cost(steps: int, data_dir: Path) -> dict[str, Any]:
    from agent.localdb import LocalDB
    from agent.models.types import Message
    from agent.runtime.checkpoints import CheckpointStore
    from agent.runtime.state import RunState

    db = LocalDB(data_dir / "runs.db")
    store = CheckpointStore(db)
    state = RunState(run_id="bench", session_id="s", thread_id="t", input="compare the sources", model="m")
    state.transcript = [Message.text("user", "compare the sources")]
    store.save(state)
    db.commit()
    size_sql = (
        "SELECT (SELECT length(state) FROM checkpoints WHERE run_id='bench'), "
        "(SELECT COALESCE(SUM(length(message)), 0) FROM checkpoint_messages WHERE run_id='bench')"
    )
    stored = sum(db.conn.execute(size_sql).fetchone())
    micros: list[float] = []
    sizes: list[int] = []
    pending: list[Any] = []
    for i in range(steps):
        if not pending:
            pending = _turn_messages(i)
        state.transcript.append(pending.pop(0))
        state.step += 1
        state.turn = state.step // 2
        t0 = time.perf_counter()
        store.save(state)
        db.commit()
        micros.append((time.perf_counter() - t0) * 1e6)
        now = sum(db.conn.execute(size_sql).fetchone())
        state_row = db.conn.execute("SELECT length(state) FROM checkpoints WHERE run_id='bench'").fetchone()[
            0
        ]
        sizes.append(now - stored + state_row)  # new message rows + the rewritten state row
        stored = now
    transcript_bytes = sum(len(m.model_dump_json()) for m in state.transcript)
    db.close()
    tenth = max(1, steps // 10)
    return {
        "us": statistics.mean(micros),  # total / steps: WAL checkpoint spikes are part of the cost
        "us_median": statistics.median(micros),
        "bytes": statistics.median(sizes),
        "bytes_first": statistics.mean(sizes[:tenth]),
        "bytes_last": statistics.mean(sizes[-tenth:]),
        "us_first": statistics.median(micros[:tenth]),
        "us_last": statistics.median(micros[-tenth:]),
        "transcript_bytes": transcript_bytes,
    }


# --- recovery after kill -9 -------------------------------------------------------------------------------
def _script(path: Path, tool_turns: int, slow_ms: int) -> None:
    turns: list[dict[str, Any]] = [
        {"tool_calls": [{"name": "counter", "arguments": {"name": "bench"}}]} for _ in range(tool_turns)
    ]
    turns.append({"text": "all done: {{last_tool_result}}", "delay_ms": slow_ms})
    path.write_text(json.dumps({"turns": turns}))


class _Server:
    def __init__(self, data_dir: Path, log_path: Path, embedder: str | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if k not in ("MODEL", "CONTROL_RPC_URL", "START_TOKEN")}
        env.update({"DATA_DIR": str(data_dir), "LOG_LEVEL": "WARNING", "HF_HUB_OFFLINE": "1"})
        env["SCRIPTS_DIR"] = str(data_dir)  # the bench names its script per run, in DATA_DIR
        if embedder:
            env["MEMORY_EMBEDDER"] = embedder
        self._log = log_path.open("a")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "agent.cli", "serve", "--dev", "--port", str(self.port)],
            env=env,
            stdout=self._log,
            stderr=self._log,
        )

    def wait_healthy(self, client: httpx.Client, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}")
            try:
                if client.get(f"{self.url}/health", timeout=0.5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not answer /health")
            time.sleep(0.01)

    def run_get(self, client: httpx.Client, run_id: str) -> dict[str, Any]:
        body = {"jsonrpc": "2.0", "id": 1, "method": "run.get", "params": {"runId": run_id}}
        answer = client.post(f"{self.url}/rpc", json=body).json()
        if "error" in answer:
            raise RuntimeError(f"run.get failed: {answer['error']}")
        return answer["result"]  # type: ignore[no-any-return]

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def _wait(server: _Server, client: httpx.Client, run_id: str, done: Any, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        view = server.run_get(client, run_id)
        if done(view):
            return view
        if view.get("status") in ("failed", "canceled"):
            raise RuntimeError(f"run ended {view.get('status')}: {view.get('error') or view.get('reason')}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out; last view: step={view.get('step')} status={view.get('status')}")
        time.sleep(0.01)


async def _bump_lease_and_count(control_db: Path, run_id: str | None) -> tuple[int, int]:
    from control_bridge.embedded import EmbeddedControlPlane

    plane = EmbeddedControlPlane(control_db)
    try:
        lease = await plane.bump_lease(run_id) if run_id else 0
        return lease, await plane.tool_execution_count("counter")
    finally:
        await plane.aclose()


def recovery(steps: int, data_dir: Path, timeout: float, embedder: str | None = None) -> dict[str, Any]:
    tool_turns = max(1, steps // 2)  # each tool turn is two steps: the model call and the tool batch
    script = data_dir / "script.json"
    _script(script, tool_turns, slow_ms=3_600_000)
    log_path = data_dir / "servers.log"
    with httpx.Client(timeout=10) as client:
        first = _Server(data_dir, log_path, embedder)
        try:
            first.wait_healthy(client, timeout)
            started = client.post(
                f"{first.url}/start", json={"input": "count for me", "model": f"scripted:{script}"}
            )
            if started.status_code != 202:
                raise RuntimeError(f"/start answered {started.status_code}: {started.text}")
            run_id = started.json()["runId"]
            before = _wait(first, client, run_id, lambda v: v.get("step", 0) >= 2 * tool_turns, timeout)
        finally:
            first.stop(signal.SIGKILL)
        print(f"killed -9 at step {before['step']} (lease {before.get('leaseVersion')})", file=sys.stderr)
        _script(script, tool_turns, slow_ms=0)  # the hung model call is gone; the replay answers at once
        lease, _ = asyncio.run(_bump_lease_and_count(data_dir / "control.db", run_id))
        t0 = time.perf_counter()
        second = _Server(data_dir, log_path, embedder)
        try:
            second.wait_healthy(client, timeout)
            healthy_s = time.perf_counter() - t0
            t1 = time.perf_counter()
            resumed = client.post(f"{second.url}/start", json={"runId": run_id, "leaseVersion": lease})
            if resumed.status_code != 202:
                raise RuntimeError(f"resume /start answered {resumed.status_code}: {resumed.text}")
            final = _wait(second, client, run_id, lambda v: v.get("status") == "completed", timeout)
            done_s = time.perf_counter()
        finally:
            t2 = time.perf_counter()
            second.stop()
            stop_s = time.perf_counter() - t2
    _, executions = asyncio.run(_bump_lease_and_count(data_dir / "control.db", None))
    return {
        "recovery_s": done_s - t0,
        "restart_to_health_s": healthy_s,
        "resume_to_complete_s": done_s - t1,
        "sigterm_exit_s": stop_s,
        "steps_before_kill": before["step"],
        "final_step": final.get("step"),
        "tool_executions": executions,
        "tool_calls_expected": tool_turns,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="agent-bench-durability-") as tmp:
        cost = checkpoint_cost(args.steps, Path(tmp))
    print(
        f"checkpoint per step: {cost['us']:.1f} µs mean ({cost['us_median']:.1f} median), "
        f"{cost['bytes']:.0f} bytes (median of {args.steps}); "
        f"first 10%: {cost['bytes_first']:.0f} B / {cost['us_first']:.1f} µs, "
        f"last 10%: {cost['bytes_last']:.0f} B / {cost['us_last']:.1f} µs; "
        f"transcript at the end: {cost['transcript_bytes'] / 1024:.0f} KiB",
        file=sys.stderr,
    )
    result: dict[str, Any] = {
        "checkpoint_us_per_step": round(cost["us"], 1),
        "checkpoint_us_median": round(cost["us_median"], 1),
        "checkpoint_bytes_per_step": round(cost["bytes"]),
        "checkpoint_bytes_first_10pct": round(cost["bytes_first"]),
        "checkpoint_bytes_last_10pct": round(cost["bytes_last"]),
        "transcript_bytes_final": cost["transcript_bytes"],
        "recovery_s": None,
    }
    if not args.no_recovery:
        with tempfile.TemporaryDirectory(prefix="agent-bench-recovery-") as tmp:
            rec = recovery(args.recovery_steps, Path(tmp), args.timeout, args.memory_embedder)
        print(
            f"recovery after kill -9 at step {rec['steps_before_kill']}: {rec['recovery_s']:.2f} s "
            f"(restart → /health {rec['restart_to_health_s']:.2f} s, resume → completed "
            f"{rec['resume_to_complete_s']:.2f} s); counter ran {rec['tool_executions']}× for "
            f"{rec['tool_calls_expected']} calls",
            file=sys.stderr,
        )
        result["recovery_s"] = round(rec["recovery_s"], 3)
        result.update(
            {k: (round(v, 3) if isinstance(v, float) else v) for k, v in rec.items() if k != "recovery_s"}
        )
    return result
