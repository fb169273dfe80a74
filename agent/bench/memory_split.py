"""`agent bench memory --locomo DIR --tune-on A,B,C`: recall on the conversations tuned on and on the rest.

Every configuration searches the same ingested spaces with the same (cached) query vectors, so the only
difference between rows is the ranking. `rrf` is plain hybrid reciprocal-rank fusion (BM25 + MiniLM), the
baseline every category must beat; `shipped` is DEFAULT_TUNING, what the server uses.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
from typing import Any

from memory import MemoryService, SearchQuery
from memory._search import DEFAULT_TUNING, Tuning
from memory._search import search as run_search

CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop"}
KS = (5, 10, 20)
Job = tuple[str, int, dict[str, Any], list[str]]

_NEIGHBOURS = {"next_weight": 0.1, "question_weight": 0.6, "prev_weight": 0.2}
TUNINGS: dict[str, Tuning] = {
    "rrf": Tuning(),
    "shipped": DEFAULT_TUNING,
    "previous-default": Tuning(dense_weight=0.5, speaker_boost=0.7, **_NEIGHBOURS),
    "neighbours": Tuning(**_NEIGHBOURS),
    "speaker": Tuning(speaker_boost=0.7),
    "session-0.2": Tuning(session_weight=0.2),
    "session-0.5": Tuning(session_weight=0.5),
    "neighbours+speaker": Tuning(speaker_boost=0.7, **_NEIGHBOURS),
    "neighbours+speaker+session": Tuning(speaker_boost=0.7, session_weight=0.2, **_NEIGHBOURS),
}


async def retrieve(service: MemoryService, tuning: Tuning, jobs: list[Job]) -> list[list[str]]:
    out: list[list[str]] = []
    for space, _, qa, _ in jobs:
        q = SearchQuery(query=qa["question"], top_k=20)
        store = await service.store(space)
        qvec = await service._query_vector(q.query)
        hits = await asyncio.to_thread(run_search, store, q, qvec, tuning)
        out.append(list(dict.fromkeys(h.key for h in hits if h.key))[:20])
    return out


def summarise(rows: list[tuple[str, list[str], list[str]]]) -> dict[str, Any]:
    """rows: (category, gold, retrieved) → recall@k overall and by category."""
    buckets: dict[str, dict[int, list[float]]] = {}
    for category, gold, got in rows:
        for bucket in ("all", category):
            per_k = buckets.setdefault(bucket, {k: [] for k in KS})
            for k in KS:
                per_k[k].append(len(set(gold) & set(got[:k])) / len(gold))

    def line(bucket: dict[int, list[float]]) -> dict[str, Any]:
        return {f"recall@{k}": round(statistics.fmean(v), 4) for k, v in bucket.items()} | {
            "n": len(bucket[KS[0]])
        }

    out = line(buckets.get("all", {k: [0.0] for k in KS}))
    out["by_category"] = {c: line(buckets[c]) for c in CATEGORIES.values() if c in buckets}
    return out


async def split_report(service: MemoryService, jobs: list[Job], tune_on: set[str]) -> dict[str, Any]:
    report: dict[str, Any] = {"tuned_on": sorted(tune_on), "held_out": sorted({j[0] for j in jobs} - tune_on)}
    for name, tuning in TUNINGS.items():
        got = await retrieve(service, tuning, jobs)
        rows = {
            part: [
                (CATEGORIES[qa["category"]], gold, hits)
                for (space, _, qa, gold), hits in zip(jobs, got, strict=True)
                if (space in tune_on) == (part == "tuned")
            ]
            for part in ("tuned", "held_out")
        }
        report[name] = {part: summarise(r) for part, r in rows.items()}
        print_row(name, report[name])
    return report


def print_row(name: str, parts: dict[str, Any]) -> None:
    for part, s in parts.items():
        cats = "  ".join(f"{c} {v['recall@10']:.3f}" for c, v in s["by_category"].items())
        print(
            f"  {name:<20} {part:<9} R@5 {s['recall@5']:.3f} R@10 {s['recall@10']:.3f} R@20 {s['recall@20']:.3f}"
            f"  | R@10 {cats}  (n={s['n']})",
            file=sys.stderr,
            flush=True,
        )
