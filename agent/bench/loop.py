"""`agent bench loop`: orchestration cost per step of the real run loop, against a bare asyncio floor.

(Longer than a serving module: it holds the same scenario written four times — ours, the floor, and the two
peer frameworks — so that the four stay side by side and provably alike.)

The scenario is fixed: a scripted model plays TURNS turns of TOOLS_PER_TURN instant tool calls each, then a
final answer, so a run has TURNS + 1 model calls and TURNS × TOOLS_PER_TURN tool calls (its *steps*). Our
runs go through the real RunManager as `agent serve` wires it: created in and reported to the embedded
control plane, with the run log and checkpoints on temp SQLite files. Per-step cost is total wall time /
steps, nothing subtracted, from the best of `--passes` passes (the machine is shared; the floor and the peers
are measured the same way).

The floor is the same shape in plain asyncio with nothing durable: the scripted model awaited, and each
turn's side-effect-free calls run concurrently with asyncio.gather, as the loop's semantics require of
them. `floor_sequential_per_step_us` awaits the calls one after another instead (no concurrency at all),
for comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Literal

TURNS = 5
TOOLS_PER_TURN = 2
TOOL_NAMES = ("lookup", "fetch")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs", type=int, default=200, help="runs per pass (sequential and concurrent)")
    parser.add_argument("--concurrency", type=int, default=50, help="runs in flight in the concurrent pass")
    parser.add_argument("--turns", type=int, default=TURNS, help="tool-calling turns per run")
    parser.add_argument(
        "--passes", type=int, default=3, help="timed passes of each measurement; the best is reported"
    )
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="print the top N cProfile rows")
    parser.add_argument("--no-peers", action="store_true", help="skip peer frameworks even if installed")


def steps_per_run(turns: int) -> int:
    return (turns + 1) + turns * TOOLS_PER_TURN


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- the floor: the same shape in bare asyncio ------------------------------------------------------------
async def floor_run(turns: int, concurrent: bool = True) -> list[dict[str, Any]]:
    transcript: list[dict[str, Any]] = [{"role": "user", "content": "go"}]

    async def model(messages: list[dict[str, Any]]) -> dict[str, Any]:
        played = sum(1 for m in messages if m["role"] == "assistant")
        if played < turns:
            calls = [{"id": f"c{played}_{i}", "name": TOOL_NAMES[i % 2], "args": {"q": i}} for i in range(2)]
            return {"role": "assistant", "content": "", "calls": calls}
        return {"role": "assistant", "content": "done", "calls": []}

    async def tool(args: dict[str, Any]) -> str:
        return f"ok {args['q']}"

    while True:
        message = await model(transcript)
        transcript.append(message)
        if not message["calls"]:
            return transcript
        calls = message["calls"]
        if concurrent:
            results = await asyncio.gather(*(tool(call["args"]) for call in calls))
        else:
            results = [await tool(call["args"]) for call in calls]
        for call, result in zip(calls, results, strict=True):
            transcript.append({"role": "tool", "id": call["id"], "content": result})


async def floor(runs: int, turns: int, concurrent: bool = True) -> float:
    """µs per step of the bare loop (best of 3 passes, it is tiny and noisy)."""
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(runs):
            await floor_run(turns, concurrent)
        best = min(best, time.perf_counter() - t0)
    return best / (runs * steps_per_run(turns)) * 1e6


# --- ours: the real manager -------------------------------------------------------------------------------
class InstantTool:
    """A local tool that answers at once (no side effects, so a batch runs concurrently)."""

    def __init__(self, name: str) -> None:
        from agent.tools.spec import ToolSpec

        self.spec = ToolSpec(
            name=name,
            description=f"instant {name}",
            parameters={"type": "object", "properties": {"q": {"type": "integer"}}, "required": ["q"]},
            side_effects=False,
        )

    async def execute(self, arguments: dict[str, Any], ctx: Any) -> Any:
        return {"ok": True, "q": arguments["q"]}


def bench_model(turns: int) -> Any:
    """A scripted model whose own cost is O(1) per call, like the peers' function models.

    (ScriptedModel estimates usage by serialising the whole prompt on every call: the model's cost, not
    orchestration's, and it grows with the transcript.)
    """
    from agent.models.base import BaseModelClient
    from agent.models.types import Message, ModelRequest, ModelResponse, TextPart, ToolUsePart, Usage

    class BenchModel(BaseModelClient):
        provider = "bench"
        model = "5x2"

        async def _complete(self, request: ModelRequest) -> ModelResponse:
            played = sum(1 for m in request.messages if m.role == "assistant")  # replay-safe turn number
            parts: list[Any]
            stop: Literal["tool_use", "end_turn"]
            if played < turns:
                parts = [
                    ToolUsePart(id=f"call_{played}_{i}", name=TOOL_NAMES[i], arguments={"q": played * 10 + i})
                    for i in range(TOOLS_PER_TURN)
                ]
                stop = "tool_use"
            else:
                parts, stop = [TextPart(text="done")], "end_turn"
            return ModelResponse(
                message=Message(role="assistant", parts=parts),
                stop_reason=stop,
                usage=Usage(input_tokens=100 + 20 * played, output_tokens=12),
                model=self.model,
                provider=self.provider,
            )

    return BenchModel()


def _tools_hook(tools: list[Any]) -> dict[str, Any]:
    """The manager's hook for in-process tools: a `run_context` factory returning RunExtras."""
    from agent.runtime.bootstrap import RunExtras

    async def run_context(state: Any, control: Any, catalog: Any = None, children: Any = None) -> Any:
        return RunExtras(tools=tools)

    return {"run_context": run_context}


class Harness:
    """A RunManager wired like the server's, on temp files (event forwarding included: with the in-process
    embedded plane it has nothing to send, as in `agent serve`)."""

    def __init__(self, data_dir: Path, *, turns: int, max_runs: int) -> None:
        from agent.events.bus import HookBus
        from agent.events.forwarding import EventForwarding
        from agent.events.log import RunLog
        from agent.localdb import LocalDB
        from agent.runtime.checkpoints import CheckpointStore
        from agent.runtime.manager import ManagerConfig, RunManager
        from control_bridge.embedded import EmbeddedControlPlane

        self.db = LocalDB(data_dir / "runs.db")
        self.log = RunLog(self.db)
        self.control = EmbeddedControlPlane(data_dir / "control.db", inline=True)
        self.bus = HookBus()
        self.forwarding = EventForwarding()
        self.log.add_publisher(self.forwarding.publish)
        self.log.add_publisher(self.bus.publish)
        model = bench_model(turns)

        def model_factory(spec: str | None, keys: dict[str, str]) -> Any:
            return model

        tools = [InstantTool(n) for n in TOOL_NAMES]

        self.manager = RunManager.assemble(
            config=ManagerConfig(max_concurrent_runs=max_runs),
            control=self.control,
            log=self.log,
            checkpoints=CheckpointStore(self.db),
            model_factory=model_factory,
            create_run=self.control.create_run,
            forwarding=self.forwarding,
            **_tools_hook(tools),
        )

    async def one(self, i: int) -> str:
        from agent.runtime.requests import StartRequest

        result = await self.manager.start(StartRequest(input=f"bench {i}", model="scripted:bench"))
        handle = self.manager.runs[result.run_id]
        assert handle.task is not None
        await handle.task
        state = handle.state
        if state is None or state.status != "completed":
            raise RuntimeError(f"bench run {result.run_id} ended {getattr(state, 'status', None)}: {state}")
        self.manager.runs.pop(result.run_id, None)
        return result.run_id

    async def sequential(self, runs: int, offset: int = 0) -> float:
        t0 = time.perf_counter()
        for i in range(runs):
            await self.one(offset + i)
        return time.perf_counter() - t0

    async def concurrent(self, runs: int, concurrency: int, offset: int = 0) -> float:
        gate = asyncio.Semaphore(concurrency)

        async def gated(i: int) -> str:
            async with gate:
                return await self.one(offset + i)

        t0 = time.perf_counter()
        await asyncio.gather(*(gated(i) for i in range(runs)))
        return time.perf_counter() - t0

    async def aclose(self) -> None:
        await self.manager.shutdown(1.0)
        await self.forwarding.aclose()
        await self.control.aclose()
        self.db.close()


async def ours(args: argparse.Namespace, data_dir: Path) -> dict[str, Any]:
    turns = args.turns
    harness = Harness(data_dir, turns=turns, max_runs=max(args.concurrency, 1))
    try:
        await harness.sequential(min(5, args.runs), offset=1_000_000)  # warm caches and code paths
        profiler = cProfile.Profile() if args.profile else None
        if profiler is not None:
            profiler.enable()
        seq_s = await harness.sequential(args.runs)
        if profiler is not None:
            profiler.disable()
            print_profile(profiler, args.profile)
        passes = max(1, args.passes)
        for k in range(1, passes):
            seq_s = min(seq_s, await harness.sequential(args.runs, offset=k * args.runs))
        conc_s = min(
            [
                await harness.concurrent(args.runs, args.concurrency, offset=(passes + k) * args.runs)
                for k in range(passes)
            ]
        )
    finally:
        await harness.aclose()
    return {
        "per_step_us": seq_s / (args.runs * steps_per_run(turns)) * 1e6,
        "runs_per_s_seq": args.runs / seq_s,
        "runs_per_s_concurrent": args.runs / conc_s,
    }


def print_profile(profiler: cProfile.Profile, top: int) -> None:
    for key in ("tottime", "cumulative"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(key).print_stats(top)
        print(f"--- cProfile, sorted by {key} ---", file=sys.stderr)
        print("\n".join(out.getvalue().splitlines()[4:]), file=sys.stderr)


# --- peers, only when installed (the optional `bench` extra; never installed by this bench) -----------------
class _Tally:
    """Model and tool calls a peer actually made, checked against the scenario after the timed runs."""

    def __init__(self) -> None:
        self.model_calls = 0
        self.tool_calls = 0

    def reset(self) -> None:
        self.model_calls = self.tool_calls = 0

    def check(self, runs: int, turns: int) -> None:
        want = (runs * (turns + 1), runs * turns * TOOLS_PER_TURN)
        got = (self.model_calls, self.tool_calls)
        if got != want:
            raise RuntimeError(f"scenario mismatch: (model calls, tool calls) = {got}, expected {want}")


def measure_peers(runs: int, turns: int, passes: int = 1) -> dict[str, Any]:
    """Same scenario with each framework's own scripted-model hook; {} when none is importable.

    Each pass runs `runs` runs sequentially after one warm-up run; per_step_us = wall / (runs × steps) of the
    best pass (as for our loop and the floor).
    Model functions and tools are `async def` like ours: both frameworks send a plain `def` to a thread pool.
    A peer that fails (or does not play the scenario) is reported as {"error": ...}, alone.
    """
    import importlib.util

    peers: dict[str, Any] = {}
    for name, module, fn in PEERS:
        if importlib.util.find_spec(module) is None:
            continue
        try:
            seconds = min(asyncio.run(fn(runs, turns)) for _ in range(max(1, passes)))
            peers[name] = {"per_step_us": round(seconds / (runs * steps_per_run(turns)) * 1e6, 1)}
        except Exception as exc:  # a peer's API drift must not break our numbers or the other peer's
            peers[name] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
    return peers


async def _pydantic_ai(runs: int, turns: int) -> float:
    """Pydantic AI: an Agent on a FunctionModel that plays the script, two plain tools."""
    from pydantic_ai import Agent, Tool
    from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart
    from pydantic_ai.models.function import AgentInfo, FunctionModel

    tally = _Tally()

    async def script(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        tally.model_calls += 1
        played = sum(1 for m in messages if isinstance(m, ModelResponse))
        if played < turns:
            return ModelResponse(
                parts=[
                    ToolCallPart(
                        tool_name=TOOL_NAMES[i], args={"q": played * 10 + i}, tool_call_id=f"c{played}_{i}"
                    )
                    for i in range(TOOLS_PER_TURN)
                ]
            )
        return ModelResponse(parts=[TextPart(content="done")])

    async def instant(q: int) -> dict[str, Any]:
        tally.tool_calls += 1
        return {"ok": True, "q": q}

    agent = Agent(
        FunctionModel(script),
        tools=[Tool(instant, takes_ctx=False, name=name) for name in TOOL_NAMES],
    )
    await agent.run("go")  # warm-up
    tally.reset()
    t0 = time.perf_counter()
    for _ in range(runs):
        result = await agent.run("go")
    seconds = time.perf_counter() - t0
    tally.check(runs, turns)
    if result.output != "done":
        raise RuntimeError(f"unexpected final output {result.output!r}")
    return seconds


async def _agents(runs: int, turns: int) -> float:
    """OpenAI Agents SDK: an Agent on a Model subclass returning scripted ModelResponses, Runner.run, no tracing."""
    from agents import (
        Agent,
        Model,
        ModelResponse,
        RunConfig,
        Runner,
        Usage,
        function_tool,
        set_tracing_disabled,
    )
    from openai.types.responses import ResponseFunctionToolCall, ResponseOutputMessage, ResponseOutputText

    set_tracing_disabled(True)
    tally = _Tally()

    class Scripted(Model):
        async def get_response(self, system_instructions: Any, input: Any, *args: Any, **kwargs: Any) -> Any:
            tally.model_calls += 1
            items = input if isinstance(input, list) else []
            played = sum(1 for item in items if _field(item, "type") == "function_call") // TOOLS_PER_TURN
            output: list[Any]
            if played < turns:
                output = [
                    ResponseFunctionToolCall(
                        type="function_call",
                        call_id=f"c{played}_{i}",
                        name=TOOL_NAMES[i],
                        arguments=f'{{"q": {played * 10 + i}}}',
                        id=f"fc{played}_{i}",
                        status="completed",
                    )
                    for i in range(TOOLS_PER_TURN)
                ]
            else:
                text = ResponseOutputText(type="output_text", text="done", annotations=[])
                output = [
                    ResponseOutputMessage(
                        type="message", id="m", role="assistant", status="completed", content=[text]
                    )
                ]
            return ModelResponse(output=output, usage=Usage(), response_id=None)

        def stream_response(self, *args: Any, **kwargs: Any) -> Any:
            raise NotImplementedError("the bench runs non-streamed")

    async def instant(q: int) -> dict[str, Any]:
        tally.tool_calls += 1
        return {"ok": True, "q": q}

    tools = [function_tool(instant, name_override=name) for name in TOOL_NAMES]
    agent = Agent(name="bench", model=Scripted(), tools=tools)
    config = RunConfig(tracing_disabled=True)
    await Runner.run(agent, "go", max_turns=turns + 2, run_config=config)  # warm-up
    tally.reset()
    t0 = time.perf_counter()
    for _ in range(runs):
        result = await Runner.run(agent, "go", max_turns=turns + 2, run_config=config)
    seconds = time.perf_counter() - t0
    tally.check(runs, turns)
    if result.final_output != "done":
        raise RuntimeError(f"unexpected final output {result.final_output!r}")
    return seconds


def _field(item: Any, name: str) -> Any:
    return item.get(name) if isinstance(item, dict) else getattr(item, name, None)


# (report name, import name, measure): looked up at call time so a test can substitute a failing peer.
PEERS: tuple[tuple[str, str, Any], ...] = (
    ("pydantic_ai", "pydantic_ai", _pydantic_ai),
    ("openai_agents", "agents", _agents),
)


def run(args: argparse.Namespace) -> dict[str, Any]:
    turns = args.turns
    floor_us = asyncio.run(floor(max(args.runs, 50), turns))
    sequential_us = asyncio.run(floor(max(args.runs, 50), turns, concurrent=False))
    print(
        f"floor (bare asyncio, same {turns}×{TOOLS_PER_TURN} shape, calls gathered): {floor_us:.2f} µs/step; "
        f"awaited one by one: {sequential_us:.2f} µs/step",
        file=sys.stderr,
    )
    with tempfile.TemporaryDirectory(prefix="agent-bench-loop-") as tmp:
        result = asyncio.run(ours(args, Path(tmp)))
    per_step = result["per_step_us"]
    print(
        f"ours ({steps_per_run(turns)} steps/run, log+checkpoints on): {per_step:.1f} µs/step "
        f"= {per_step / floor_us:.0f}× floor; {result['runs_per_s_seq']:.1f} runs/s sequential, "
        f"{result['runs_per_s_concurrent']:.1f} runs/s at {args.concurrency} concurrent",
        file=sys.stderr,
    )
    peers = {} if args.no_peers else measure_peers(max(1, args.runs // 4), turns, args.passes)
    for name, peer in peers.items():
        print(f"peer {name}: {peer}", file=sys.stderr)
    return {
        "per_step_us": round(per_step, 2),
        "floor_per_step_us": round(floor_us, 3),
        "floor_sequential_per_step_us": round(sequential_us, 3),
        "runs_per_s_seq": round(result["runs_per_s_seq"], 2),
        "runs_per_s_concurrent": round(result["runs_per_s_concurrent"], 2),
        "rss_mb": round(peak_rss_mb(), 1),
        "peers": peers,
        "steps_per_run": steps_per_run(turns),
        "ratio_to_floor": round(per_step / floor_us, 1),
    }
