"""`agent bench bridge`: the bridge against the reference control plane on loopback.

Starts `python -m control_bridge.server` in a subprocess (so server and client do not share one GIL), then
measures event forwarding (one EventForwarder, at most one RPC in flight, batches of --batch-size) and
tools.execute round trips. Prints progress to stderr and returns the numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from agent.bench.startup import free_port
from control_bridge import contract as c
from control_bridge.admin_client import AdminClient
from control_bridge.client import RpcControlPlane
from control_bridge.forwarder import EventForwarder
from control_bridge.protocol import ControlPlaneBase
from control_bridge.wire import utc_iso


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--events", type=int, default=50_000, help="events to forward (default 50000)")
    parser.add_argument("--batch-size", type=int, default=500, help="max events per append RPC (default 500)")
    parser.add_argument("--tool-calls", type=int, default=300, help="tools.execute calls (default 300)")
    parser.add_argument("--url", default=None, help="use a running control plane instead of starting one")
    parser.add_argument("--token", default=None, help="its bearer token (with --url)")


class _Timed(ControlPlaneBase):
    """Times every call of the wrapped control plane (the forwarder's RPCs)."""

    def __init__(self, inner: ControlPlaneBase) -> None:
        self.inner = inner
        self.rtts_ms: list[float] = []

    async def call(self, method: str, params: c.WireModel) -> c.WireModel:
        start = time.perf_counter()
        try:
            return await self.inner.call(method, params)
        finally:
            self.rtts_ms.append((time.perf_counter() - start) * 1000)


def _pct(values: list[float], q: float) -> float:
    if len(values) < 2:
        return round(values[0], 3) if values else 0.0
    return round(statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1], 3)


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def _wait_healthy(base: str, proc: asyncio.subprocess.Process) -> None:
    async with httpx.AsyncClient() as http:
        for _ in range(400):
            if proc.returncode is not None:
                raise RuntimeError("control plane exited during startup")
            try:
                if (await http.get(base + "/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError("control plane did not become healthy")


async def _measure(url: str, token: str | None, args: argparse.Namespace) -> dict[str, Any]:
    rpc = RpcControlPlane(url, token)
    admin = AdminClient(rpc)
    try:
        run = await admin.create_run({"input": "bench", "runId": f"bench-{secrets.token_hex(4)}"})
        await rpc.run_bootstrap(c.RunBootstrapParams(run_id=run.run_id, lease_version=1))
        for i in range(20):  # warm up connections and code paths
            await rpc.run_heartbeat(
                c.RunHeartbeatParams(run_id=run.run_id, lease_version=1, worker_id=str(i))
            )

        timed = _Timed(rpc)
        forwarder = EventForwarder(timed, run.run_id, 1, max_batch=args.batch_size, max_delay_s=0.005)
        data = {"turn": 1, "text": "a token or two of streamed text"}
        _log(f"forwarding {args.events} events in batches of up to {args.batch_size} ...")
        start = time.perf_counter()
        for seq in range(1, args.events + 1):
            await forwarder.submit(
                c.EventRecord(sequence=seq, type="assistant.delta", data=data, time=utc_iso())
            )
            if seq % 1000 == 0:
                await asyncio.sleep(0)  # a real loop yields between steps
        await forwarder.aclose()
        elapsed = time.perf_counter() - start
        stored = await admin.events(run.run_id, after=args.events - 1)
        if not stored or stored[-1].sequence != args.events:
            raise RuntimeError("the control plane did not store every event")
        events_per_s = args.events / elapsed
        _log(f"  {events_per_s:,.0f} events/s over {forwarder.batches_sent} RPCs in {elapsed:.2f}s")

        _log(f"{args.tool_calls} tools.execute calls (calculator) ...")
        tool_ms: list[float] = []
        for i in range(args.tool_calls):
            call = c.ToolCall(id=f"t{i}", name="calculator", arguments={"expression": f"{i} * 2 + 1"})
            params = c.ToolsExecuteParams(
                run_id=run.run_id, lease_version=1, tool_call=call, idempotency_key=f"{run.run_id}:{i}"
            )
            t0 = time.perf_counter()
            result = await rpc.tools_execute(params)
            tool_ms.append((time.perf_counter() - t0) * 1000)
            if result.error is not None:
                raise RuntimeError(f"tool failed: {result.error.message}")
        await rpc.run_complete(c.RunCompleteParams(run_id=run.run_id, lease_version=1, status="completed"))
    finally:
        await rpc.aclose()
    return {
        "events_per_s": round(events_per_s, 1),
        "rtt_p50_ms": _pct(timed.rtts_ms, 50),
        "rtt_p95_ms": _pct(timed.rtts_ms, 95),
        "tool_execute_p50_ms": _pct(tool_ms, 50),
        "tool_execute_p95_ms": _pct(tool_ms, 95),
        "batch_size": args.batch_size,
        "batches": forwarder.batches_sent,
        "events": args.events,
        "target_events_per_s": 5000,
    }


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    if args.url:
        return await _measure(args.url, args.token, args)
    port = free_port()
    token = secrets.token_urlsafe(16)
    with tempfile.TemporaryDirectory(prefix="bench-bridge-") as tmp:
        command = [
            sys.executable,
            "-m",
            "control_bridge.server",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ]
        command += ["--db", str(Path(tmp) / "cp.db")]
        proc = await asyncio.create_subprocess_exec(*command, env={**os.environ, "CONTROL_RPC_TOKEN": token})
        try:
            base = f"http://127.0.0.1:{port}"
            await _wait_healthy(base, proc)
            _log(f"reference control plane on {base} (pid {proc.pid})")
            return await _measure(base + "/rpc", token, args)
        finally:
            proc.terminate()
            await proc.wait()


def run(args: argparse.Namespace) -> dict[str, Any]:
    result = asyncio.run(_run(args))
    _log(
        f"batch size {result['batch_size']}: {result['events_per_s']:,.0f} events/s "
        f"(target 5,000), append RTT p50 {result['rtt_p50_ms']} ms / p95 {result['rtt_p95_ms']} ms, "
        f"tools.execute p95 {result['tool_execute_p95_ms']} ms"
    )
    return result
