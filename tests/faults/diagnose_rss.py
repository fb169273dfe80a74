"""Where does memory grow between run A and run B? Issue 16 item 17 (a diagnostic, not a test).

Runs A runs, waits idle, collects, then records object counts by type, every container with ≥ 200 items (and
who holds it), and starts tracemalloc; runs B more and diffs: live allocations made during the B runs grouped
by traceback, type counts, and container sizes. `--no-memory` keeps run events out of the memory substrate;
`--trim` shows RSS before/after glibc `malloc_trim(0)` (fragmentation vs live objects).

Run: HF_HUB_OFFLINE=1 PYTHONPATH=. .venv/bin/python tests/faults/diagnose_rss.py 1500 1500 [--no-memory] [--trim]
"""

import collections
import ctypes
import gc
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from agent.bench.memory_scale import rss_mb
from tests.server.conftest import make_server

A = int(sys.argv[1]) if len(sys.argv) > 1 else 1500
B = int(sys.argv[2]) if len(sys.argv) > 2 else 1500
FRAMES = 30
if "--no-memory" in sys.argv:
    import agent.memoryhost

    agent.memoryhost.MemoryHost.on_event = lambda self, space_id, event: None  # type: ignore[method-assign]


def trim() -> str:
    before = rss_mb()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    return f"rss {before:.1f} → {rss_mb():.1f} MB after malloc_trim"


def types() -> collections.Counter[str]:
    return collections.Counter(f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.get_objects())


def containers() -> dict[int, tuple[str, int]]:
    out: dict[int, tuple[str, int]] = {}
    for o in gc.get_objects():
        if isinstance(o, (dict, list, set, collections.deque, collections.OrderedDict)) and len(o) >= 200:
            out[id(o)] = (type(o).__name__, len(o))
    return out


def holder(obj_id: int) -> str:
    target = next((o for o in gc.get_objects() if id(o) == obj_id), None)
    if target is None:
        return "?"
    names = []
    for ref in gc.get_referrers(target):
        if isinstance(ref, dict):
            key = next((k for k, v in ref.items() if v is target), None)
            owners = [r for r in gc.get_referrers(ref) if getattr(r, "__dict__", None) is ref]
            owner = type(owners[0]).__qualname__ if owners else "dict"
            if key is not None:
                names.append(f"{owner}.{key}")
        elif hasattr(ref, "__slots__") or hasattr(ref, "__dict__"):
            names.append(type(ref).__qualname__)
    return ", ".join(names[:4]) or "?"


def run(server, n: int, offset: int) -> None:  # type: ignore[no-untyped-def]
    for i in range(n):
        while True:
            r = server.client.post("/start", json={"input": f"hello {offset + i}"}, headers=server.auth)
            if r.status_code == 202:
                break
            time.sleep(0.01)
    while server.services.manager.active:
        time.sleep(0.05)
    time.sleep(1.0)  # background distillation and ingestion settle
    gc.collect()


tmp = Path(tempfile.mkdtemp())
for server in make_server(tmp, max_concurrent_runs=50):
    t0 = time.monotonic()
    run(server, A, 0)
    print(f"runs={A} rss={rss_mb():.1f}MB t={time.monotonic() - t0:.0f}s", flush=True)
    if "--trim" in sys.argv:
        print("   ", trim(), flush=True)
    types0, cont0 = types(), containers()
    tracemalloc.start(FRAMES)
    run(server, B, A)
    types1, cont1 = types(), containers()
    snap = tracemalloc.take_snapshot()
    tracemalloc.stop()
    print(f"runs={A + B} rss={rss_mb():.1f}MB t={time.monotonic() - t0:.0f}s", flush=True)
    if "--trim" in sys.argv:
        print("   ", trim(), flush=True)
    snap = snap.filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
    stats = snap.statistics("traceback")
    total = sum(s.size for s in stats)
    print(
        f"\n== live allocations made during the last {B} runs: {total / 1024:.0f} KiB "
        f"({total / B:.0f} B/run) in {len(stats)} tracebacks",
        flush=True,
    )
    for s in stats[:25]:
        print(f"\n-- {s.size / 1024:.1f} KiB in {s.count} blocks ({s.size / B:.0f} B/run)")
        for line in s.traceback.format()[-2 * 12 :]:
            print("   ", line)
    print("\n== by line (top 30)")
    for s in snap.statistics("lineno")[:30]:
        print("   ", s)
    print("\n== object counts by type (growth over the last B runs, top 40)")
    growth = {k: types1[k] - types0.get(k, 0) for k in types1}
    for k, v in sorted(growth.items(), key=lambda kv: -kv[1])[:40]:
        print(f"    {v:+8d}  {k} (now {types1[k]})")
    print("\n== containers ≥ 200 items that grew (or are new)")
    rows = []
    for oid, (kind, n) in cont1.items():
        before = cont0.get(oid, (kind, 0))[1]
        if n > before:
            rows.append((n - before, oid, kind, n))
    for d, oid, kind, n in sorted(rows, reverse=True)[:20]:
        print(f"    {kind} len={n} (+{d}) held by {holder(oid)}")
