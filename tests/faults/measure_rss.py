"""RSS over N runs against a real server (in-process uvicorn, embedded plane, local runner). Issue 16 item 17.

Run: HF_HUB_OFFLINE=1 PYTHONPATH=. .venv/bin/python tests/faults/measure_rss.py 3000 [--trace]
"""

import gc
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from tests.server.conftest import make_server


def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024


N = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
trace = "--trace" in sys.argv
tmp = Path(tempfile.mkdtemp())
for server in make_server(tmp, max_concurrent_runs=50):
    ids = []
    if trace:
        tracemalloc.start(10)
    snap0 = None
    t0 = time.monotonic()
    for i in range(N):
        while True:
            r = server.client.post("/start", json={"input": f"hello {i}"}, headers=server.auth)
            if r.status_code == 202:
                break
            time.sleep(0.01)
        ids.append(r.json()["runId"])
        if (i + 1) % 500 == 0:
            while server.services.manager.active:
                time.sleep(0.05)
            gc.collect()
            print(
                f"runs={i + 1} rss={rss_mb():.1f}MB registry={len(server.services.manager.runs)} t={time.monotonic() - t0:.0f}s",
                flush=True,
            )
            if trace:
                snap = tracemalloc.take_snapshot()
                if snap0 is not None:
                    for stat in snap.compare_to(snap0, "lineno")[:8]:
                        print("   ", stat, flush=True)
                snap0 = snap
