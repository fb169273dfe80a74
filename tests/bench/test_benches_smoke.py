"""Each benchmark in a tiny configuration: the result has the issue's keys with sane values (no timing)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from typing import Any

import pytest

from agent.bench import durability, loop, startup


def args_for(module: Any, *argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    return parser.parse_args(list(argv))


def positive(value: Any) -> bool:
    return isinstance(value, int | float) and value > 0


def test_loop_bench_keys_and_values() -> None:
    result = loop.run(args_for(loop, "--runs", "4", "--concurrency", "2"))
    for key in ("per_step_us", "floor_per_step_us", "runs_per_s_seq", "runs_per_s_concurrent", "rss_mb"):
        assert positive(result[key]), key
    assert isinstance(result["peers"], dict)
    for name, peer in result["peers"].items():  # only the installed ones (the `bench` extra)
        assert positive(peer.get("per_step_us")), (name, peer)
    assert result["steps_per_run"] == 16
    assert result["per_step_us"] > result["floor_per_step_us"]


@pytest.mark.parametrize(("name", "module"), [("pydantic_ai", "pydantic_ai"), ("openai_agents", "agents")])
def test_loop_peer_plays_the_scenario(name: str, module: str, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip(module)
    monkeypatch.setattr(loop, "PEERS", tuple(peer for peer in loop.PEERS if peer[0] == name))
    # A peer that does not make exactly 6 model calls and 10 tool calls per run reports an error.
    peers = loop.measure_peers(2, loop.TURNS)
    assert list(peers) == [name]
    assert positive(peers[name].get("per_step_us")), peers


def test_loop_peer_failure_is_isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(runs: int, turns: int) -> float:
        raise ValueError("api drift")

    async def fine(runs: int, turns: int) -> float:
        return 0.0032

    monkeypatch.setattr(
        loop,
        "PEERS",
        (("broken", "json", broken), ("fine", "json", fine), ("absent", "no_such_peer_module", fine)),
    )
    assert loop.measure_peers(2, loop.TURNS) == {
        "broken": {"error": "ValueError: api drift"},
        "fine": {"per_step_us": 100.0},
    }


def test_durability_bench_keys_and_recovery() -> None:
    result = durability.run(
        args_for(
            durability,
            "--steps",
            "20",
            "--recovery-steps",
            "4",
            "--timeout",
            "30",
            "--memory-embedder",
            "hash",
        )
    )
    assert positive(result["checkpoint_us_per_step"])
    assert 500 < result["checkpoint_bytes_per_step"] < 10_000
    # Linear growth: a step late in the run writes about what an early one wrote.
    assert result["checkpoint_bytes_last_10pct"] < 1.5 * result["checkpoint_bytes_first_10pct"]
    assert positive(result["recovery_s"])
    assert result["steps_before_kill"] >= 4
    assert result["tool_executions"] == result["tool_calls_expected"] == 2, "a resumed run repeated a tool"


def test_startup_bench_keys_and_import_report() -> None:
    result = startup.run(args_for(startup, "--starts", "1"))
    assert positive(result["startup_s_median"])
    assert 10 < result["rss_mb"] < 4096
    assert result["heavy_imported"] == [], "the embedding stack must stay off the start path"
    assert result["top_imports_ms"]


def test_import_report_parses_importtime_lines() -> None:
    text = (
        "import time: self [us] | cumulative | imported package\n"
        "import time:       100 |        100 |   torch._C\n"
        "import time:       300 |       5400 | torch\n"
        "import time:        50 |         50 | json\n"
    )
    report = startup.import_report(text)
    assert report["heavy_imported"] == ["torch"]
    assert list(report["top_imports_ms"]) == ["torch", "json"]


@pytest.mark.parametrize("name", ["loop"])
def test_cli_prints_one_json_line(name: str) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "agent.cli",
            "bench",
            name,
            "--runs",
            "2",
            "--concurrency",
            "2",
            "--no-peers",
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert "per_step_us" in json.loads(out.strip().splitlines()[-1])
