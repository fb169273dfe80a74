"""RSS over N runs against a real server (in-process uvicorn, embedded plane, local runner). Issue 16 item 17.

Prints RSS every `--every` runs (idle, after a collection), then one JSON line: the curve, and the slope over
the second half in MB per 1,000 runs (least squares over the points at or after N/2), so a leak shows as a
slope that stays up however long the run, and a levelling off as one that falls towards zero. `memory_items`
is the number of vectors in the default space's in-memory graph: that part grows with stored memory by design
(1.4–2.9 KB per item with the 8-bit graph, capacity doubling and allocator slack included), every run adding about three (two episodes and a fact).

`--no-memory` keeps run events out of the memory substrate (to tell its share from the rest); `--trim` also
prints RSS after glibc's `malloc_trim(0)` (fragmentation vs live objects); `--trace` diffs tracemalloc
snapshots between points (slow: it times out the memory search).

Run: HF_HUB_OFFLINE=1 PYTHONPATH=. .venv/bin/python tests/faults/measure_rss.py 5000 [--no-memory] [--trim]
"""

import argparse
import ctypes
import gc
import json
import tempfile
import time
import tracemalloc
from pathlib import Path

from agent.bench.memory_scale import rss_mb
from tests.server.conftest import make_server

parser = argparse.ArgumentParser()
parser.add_argument("runs", type=int, nargs="?", default=3000)
parser.add_argument("--every", type=int, default=500)
parser.add_argument("--no-memory", action="store_true")
parser.add_argument("--trim", action="store_true")
parser.add_argument("--trace", action="store_true")
args = parser.parse_args()

if args.no_memory:
    import agent.memoryhost

    agent.memoryhost.MemoryHost.on_event = lambda self, space_id, event: None  # type: ignore[method-assign]


def slope(points: list[tuple[int, float]]) -> float:
    """Least-squares MB per 1,000 runs."""
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    return 1000 * sum((x - mx) * (y - my) for x, y in points) / sxx


tmp = Path(tempfile.mkdtemp())
curve: list[tuple[int, float]] = []
items: dict[int, int] = {}
for server in make_server(tmp, max_concurrent_runs=50):
    if args.trace:
        tracemalloc.start(10)
    snap0 = None
    t0 = time.monotonic()
    for i in range(args.runs):
        while True:
            r = server.client.post("/start", json={"input": f"hello {i}"}, headers=server.auth)
            if r.status_code == 202:
                break
            time.sleep(0.01)
        if (i + 1) % args.every == 0 or i + 1 == args.runs:
            while server.services.manager.active:
                time.sleep(0.05)
            time.sleep(0.5)  # the background distillation of the last runs
            gc.collect()
            rss = rss_mb()
            curve.append((i + 1, round(rss, 1)))
            service = server.services.memory.service
            store = service.pool.cached("default") if service is not None else None
            items[i + 1] = store.index.size if store is not None else 0  # vectors in the space's graph
            line = (
                f"runs={i + 1} rss={rss:.1f}MB registry={len(server.services.manager.runs)} "
                f"memory_items={items[i + 1]} t={time.monotonic() - t0:.0f}s"
            )
            if args.trim:
                ctypes.CDLL("libc.so.6").malloc_trim(0)
                line += f" trimmed={rss_mb():.1f}MB"
            print(line, flush=True)
            if args.trace:
                snap = tracemalloc.take_snapshot()
                if snap0 is not None:
                    for stat in snap.compare_to(snap0, "lineno")[:8]:
                        print("   ", stat, flush=True)
                snap0 = snap
second_half = [(x, y) for x, y in curve if x >= args.runs / 2]
print(
    json.dumps(
        {
            "runs": args.runs,
            "memory": not args.no_memory,
            "rss_mb": dict(curve),
            "memory_items": items,
            "slope_mb_per_1000_runs_second_half": round(slope(second_half), 2),
        }
    ),
    flush=True,
)
