"""`agent bench wal`: how big runs.db's and control.db's WAL files get under sustained load, and after folding.

N runs go through the real RunManager on temp files (the loop bench's Harness) while the server's folding
(`LocalDB.checkpoint`, `EmbeddedControlPlane.fold_wal`, from a worker thread) runs on a short interval. The
WAL sizes are sampled throughout: the peak says what one interval of writes costs, the final size (after a
last fold) says whether folding bounds the file or leaves it at its high-water mark. `--passive-only`
measures the old PASSIVE-only folding for comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from agent.bench.loop import TURNS, Harness

MB = 1024 * 1024


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs", type=int, default=300, help="runs driven through the manager")
    parser.add_argument("--concurrency", type=int, default=20, help="runs in flight at once")
    parser.add_argument("--turns", type=int, default=TURNS, help="tool-calling turns per run")
    parser.add_argument("--fold-interval-ms", type=int, default=500, help="how often the WALs are folded")
    parser.add_argument("--passive-only", action="store_true", help="fold with PASSIVE only (the old way)")


def _wal_mb(db: Path) -> float:
    wal = Path(f"{db}-wal")
    return wal.stat().st_size / MB if wal.exists() else 0.0


def _passive(path: Path) -> None:
    conn = sqlite3.connect(str(path), timeout=5)
    try:
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
    finally:
        conn.close()


async def measure(args: argparse.Namespace, data_dir: Path) -> dict[str, Any]:
    harness = Harness(data_dir, turns=args.turns, max_runs=max(args.concurrency, 1))
    runs_db, control_db = data_dir / "runs.db", data_dir / "control.db"
    peaks = {"runs": 0.0, "control": 0.0, "lag": 0.0}
    folds: list[float] = []

    def fold() -> None:
        started = time.perf_counter()
        if args.passive_only:
            _passive(runs_db)
            _passive(control_db)
        else:
            harness.db.checkpoint()
            harness.control.fold_wal()
        folds.append(time.perf_counter() - started)

    async def folding(stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), args.fold_interval_ms / 1000)
            except TimeoutError:
                await asyncio.to_thread(fold)

    async def sampling(stop: asyncio.Event) -> None:
        """Also the event loop's worst lag: a commit waiting on folding's lock would show here."""
        while not stop.is_set():
            peaks["runs"] = max(peaks["runs"], _wal_mb(runs_db))
            peaks["control"] = max(peaks["control"], _wal_mb(control_db))
            before = time.perf_counter()
            await asyncio.sleep(0.02)
            peaks["lag"] = max(peaks["lag"], time.perf_counter() - before - 0.02)

    stop = asyncio.Event()
    background = [asyncio.create_task(folding(stop)), asyncio.create_task(sampling(stop))]
    try:
        elapsed = await harness.concurrent(args.runs, args.concurrency)
        harness.db.commit()
        stop.set()
        await asyncio.gather(*background)
        peaks["runs"] = max(peaks["runs"], _wal_mb(runs_db))
        peaks["control"] = max(peaks["control"], _wal_mb(control_db))
        await asyncio.to_thread(fold)  # the last fold, as the next tick of `_wal_loop` would do
        return {
            "runs": args.runs,
            "fold": "passive" if args.passive_only else "passive+truncate",
            "fold_interval_ms": args.fold_interval_ms,
            "elapsed_s": round(elapsed, 2),
            "folds": len(folds),
            "fold_max_ms": round(max(folds) * 1000, 2),
            "loop_lag_max_ms": round(peaks["lag"] * 1000, 2),
            "runs_wal_peak_mb": round(peaks["runs"], 3),
            "runs_wal_final_mb": round(_wal_mb(runs_db), 3),
            "control_wal_peak_mb": round(peaks["control"], 3),
            "control_wal_final_mb": round(_wal_mb(control_db), 3),
        }
    finally:
        stop.set()
        await harness.aclose()


def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="agent-bench-wal-") as tmp:
        return asyncio.run(measure(args, Path(tmp)))
