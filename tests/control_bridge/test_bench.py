"""`agent bench bridge` end to end at a tiny size: the keys exist and every event arrived (checked inside)."""

from __future__ import annotations

import argparse

from agent.bench import bridge


def test_bench_bridge_small() -> None:
    parser = argparse.ArgumentParser()
    bridge.add_arguments(parser)
    args = parser.parse_args(["--events", "300", "--batch-size", "50", "--tool-calls", "5"])
    result = bridge.run(args)
    assert {"events_per_s", "rtt_p50_ms", "rtt_p95_ms", "tool_execute_p95_ms", "batch_size"} <= set(result)
    assert result["batch_size"] == 50 and result["batches"] >= 300 // 50 and result["events_per_s"] > 0
