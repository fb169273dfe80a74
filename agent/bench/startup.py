"""`agent bench startup`: process start → first 200 on /health, median over N starts, and peak RSS.

Each start is a fresh `python -m agent.cli serve --dev --port <free>` on a temp DATA_DIR. One extra,
untimed start runs with `-X importtime` to show whether the embedding stack (sentence_transformers, torch)
is imported on the start path, and which imports cost the most.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

HEAVY = ("sentence_transformers", "torch", "transformers")
_IMPORT_LINE = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--starts", type=int, default=5, help="timed starts (median is reported)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for one start")
    parser.add_argument("--no-importtime", action="store_true", help="skip the -X importtime start")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def vm_hwm_mb(pid: int) -> float:
    """Peak resident set size of a live process (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=0.5) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _env(data_dir: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MODEL", "CONTROL_RPC_URL", "START_TOKEN")}
    env.update({"DATA_DIR": data_dir, "LOG_LEVEL": "WARNING", "HF_HUB_OFFLINE": "1"})
    return env


def start_once(timeout: float, extra: tuple[str, ...] = ()) -> tuple[float, float, str]:
    """Starts a server, waits for /health; returns (seconds, peak RSS MiB, stderr)."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="agent-bench-startup-") as data_dir:
        cmd = [sys.executable, *extra, "-m", "agent.cli", "serve", "--dev", "--port", str(port)]
        err_path = Path(data_dir) / "stderr.txt"  # a file, not a pipe: -X importtime would fill a pipe
        err_file = err_path.open("w")
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=_env(data_dir), stdout=subprocess.DEVNULL, stderr=err_file)
        try:
            url = f"http://127.0.0.1:{port}/health"
            while not _healthy(url):
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"server exited with {proc.returncode}: {err_path.read_text()[-2000:]}"
                    )
                if time.perf_counter() - t0 > timeout:
                    raise RuntimeError(f"no 200 from /health within {timeout:g}s")
                time.sleep(0.005)
            seconds = time.perf_counter() - t0
            rss = vm_hwm_mb(proc.pid)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            err_file.close()
        err = err_path.read_text(errors="replace")
    return seconds, rss, err


def import_report(stderr: str, top: int = 8) -> dict[str, Any]:
    """Parses `-X importtime` output: heavy packages seen, and the costliest top-level imports."""
    modules: set[str] = set()
    roots: list[tuple[int, str]] = []
    for line in stderr.splitlines():
        m = _IMPORT_LINE.match(line)
        if not m:
            continue
        cumulative, indent, name = int(m.group(2)), len(m.group(3)), m.group(4)
        modules.add(name.split(".")[0])
        if indent <= 1:
            roots.append((cumulative, name))
    roots.sort(reverse=True)
    return {
        "heavy_imported": sorted(h for h in HEAVY if h in modules),
        "top_imports_ms": {name: round(us / 1000, 1) for us, name in roots[:top]},
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    times: list[float] = []
    rss: list[float] = []
    for i in range(args.starts):
        seconds, peak, _ = start_once(args.timeout)
        times.append(seconds)
        rss.append(peak)
        print(
            f"start {i + 1}/{args.starts}: {seconds:.3f} s to /health 200, peak RSS {peak:.1f} MiB",
            file=sys.stderr,
        )
    result: dict[str, Any] = {
        "startup_s_median": round(statistics.median(times), 3),
        "rss_mb": round(max(rss), 1),
        "startup_s_all": [round(t, 3) for t in times],
    }
    if not args.no_importtime:
        _, _, stderr = start_once(args.timeout * 2, ("-X", "importtime"))
        report = import_report(stderr)
        result.update(report)
        heavy = report["heavy_imported"]
        print(
            "embedding stack on the start path: "
            + (
                f"YES ({', '.join(heavy)}) — make it lazy"
                if heavy
                else "no (sentence_transformers/torch not imported)"
            ),
            file=sys.stderr,
        )
        print(f"costliest top-level imports (ms, cumulative): {report['top_imports_ms']}", file=sys.stderr)
    return result
