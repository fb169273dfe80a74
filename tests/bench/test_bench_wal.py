"""`agent bench wal` in a tiny configuration: the issue's keys, and folding leaves both WALs empty."""

from __future__ import annotations

import json
import subprocess
import sys

from agent.bench import wal
from tests.bench.test_benches_smoke import args_for


def test_wal_bench_reports_peak_and_final_sizes() -> None:
    result = wal.run(args_for(wal, "--runs", "20", "--concurrency", "5", "--fold-interval-ms", "50"))
    for key in ("runs_wal_peak_mb", "runs_wal_final_mb", "control_wal_peak_mb", "control_wal_final_mb"):
        assert isinstance(result[key], float), key
    assert result["runs_wal_peak_mb"] > 0 and result["control_wal_peak_mb"] > 0
    assert result["runs_wal_final_mb"] == 0.0 and result["control_wal_final_mb"] == 0.0
    assert result["folds"] >= 1


def test_wal_bench_passive_only_keeps_the_high_water_mark() -> None:
    result = wal.run(args_for(wal, "--runs", "20", "--concurrency", "5", "--passive-only"))
    assert result["runs_wal_final_mb"] == result["runs_wal_peak_mb"] > 0


def test_wal_bench_is_registered_in_the_cli() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "agent.cli", "bench", "wal", "--json", "--runs", "5", "--concurrency", "2"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "runs_wal_final_mb" in json.loads(out.stdout.strip().splitlines()[-1])
