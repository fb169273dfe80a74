from __future__ import annotations

import json
import subprocess
import sys


def test_bench_mcp_prints_both_transports_p50() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "agent.cli", "bench", "mcp", "--json", "--calls", "20"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    for key in ("mcp_stdio_call_p50_ms", "mcp_http_call_p50_ms"):
        assert isinstance(result[key], float) and 0 < result[key] < 1000
