"""`agent bench memory`: evidence recall on LoCoMo, and scale numbers on a synthetic space.

LoCoMo ingest uses only what a live system would have seen (speaker, text, image caption, session date);
the files' observations, summaries, event annotations and questions are never read into memory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tqdm import tqdm

from memory import EpisodeIn, HashEmbedder, MemoryIngestor, MemoryService, MiniLMEmbedder, SearchQuery

CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop"}
KS = (5, 10, 20)
_TOKEN = re.compile(r"^D:?(\d+):(\d+)$")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--locomo", type=Path, metavar="DIR", help="folder of LoCoMo <id>.json files")
    parser.add_argument("--mode", choices=["hybrid", "dense", "keyword"], default="hybrid")
    parser.add_argument(
        "--predictions", type=Path, metavar="FILE", help="write one JSON line per scored question"
    )
    parser.add_argument("--synthetic", type=int, metavar="N", help="synthetic scale run with N episodes")
    parser.add_argument(
        "--keep",
        type=Path,
        metavar="DIR",
        help="synthetic: build the corpus in DIR and reuse it on the next run with the same N (a 1M build"
        " takes ~25 min; the query side takes a minute)",
    )
    parser.add_argument("--embedder", choices=["minilm", "hash"], default="minilm", help="LoCoMo embedder")
    parser.add_argument("--no-distill", action="store_true", help="LoCoMo: skip the entity/edge distillation")
    parser.add_argument(
        "--tune-on",
        metavar="IDS",
        help="LoCoMo: comma-separated conversation ids tuned on; the rest are held out",
    )


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.locomo is None and args.synthetic is None:
        raise SystemExit("give --locomo DIR or --synthetic N")
    result: dict[str, Any] = {}
    if args.locomo is not None:
        result.update(asyncio.run(_locomo(args)))
    if args.synthetic is not None:
        from agent.bench.memory_scale import synthetic

        result.update(asyncio.run(synthetic(args.synthetic, args.keep)))
    return result


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


# -- LoCoMo -------------------------------------------------------------------------------------------------


def session_time(text: str) -> float:
    """LoCoMo dates look like "1:56 pm on 8 May, 2023" (no zone; read as UTC)."""
    parsed = datetime.strptime(text.strip(), "%I:%M %p on %d %B, %Y")
    return parsed.replace(tzinfo=UTC).timestamp()


def conversation_turns(conv: dict[str, Any]) -> list[EpisodeIn]:
    episodes: list[EpisodeIn] = []
    n = 1
    while f"session_{n}" in conv:
        at = session_time(conv[f"session_{n}_date_time"])
        for turn in conv[f"session_{n}"]:
            text = turn["text"]
            if turn.get("blip_caption"):
                text += f" [image: {turn['blip_caption']}]"
            episodes.append(
                EpisodeIn(
                    text=text,
                    kind="turn",
                    role="user",
                    speaker=turn["speaker"],
                    session_id=f"session_{n}",
                    key=turn["dia_id"],
                    occurred_at=at,
                    metadata={"dia_id": turn["dia_id"]},
                )
            )
        n += 1
    return episodes


def clean_evidence(evidence: list[str], known: set[str]) -> list[str]:
    out: list[str] = []
    for item in evidence:
        for token in re.split(r"[;,\s]+", item.replace("(", " ").replace(")", " ")):
            match = _TOKEN.match(token.strip())
            if match:
                dia = f"D{int(match.group(1))}:{int(match.group(2))}"
                if dia in known and dia not in out:
                    out.append(dia)
    return out


class _TimedEmbedder:
    """Passes through, timing single-text calls (search queries) so latency can be split honestly."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.dim = inner.dim
        self.name = getattr(inner, "name", type(inner).__name__)
        self.version = getattr(inner, "version", "0")
        self.query_ms: list[float] = []

    async def embed(self, texts: list[str]) -> Any:
        started = time.perf_counter()
        out = await self.inner.embed(texts)
        if len(texts) == 1:
            self.query_ms.append((time.perf_counter() - started) * 1000)
        return out


async def _locomo(args: argparse.Namespace) -> dict[str, Any]:
    files = sorted(Path(args.locomo).glob("*.json"))
    if not files:
        raise SystemExit(f"no LoCoMo .json files in {args.locomo}")
    inner = MiniLMEmbedder() if args.embedder == "minilm" else HashEmbedder()
    if isinstance(inner, MiniLMEmbedder):
        _say("loading MiniLM …")
        await inner.load()
    embedder = _TimedEmbedder(inner)
    recalls: dict[str, dict[int, list[float]]] = {"all": {k: [] for k in KS}}
    latencies: list[float] = []
    predictions: list[dict[str, Any]] = []
    ingested, ingest_s = 0, 0.0
    split: dict[str, Any] | None = None
    with tempfile.TemporaryDirectory(prefix="locomo-bench-") as tmp:
        service = MemoryService(Path(tmp), embedder)
        ingestor = MemoryIngestor(service)
        try:
            jobs: list[tuple[str, int, dict[str, Any], list[str]]] = []
            for path in tqdm(files, desc="ingest", file=sys.stderr, unit="conv"):
                conv = json.loads(path.read_text())
                turns = conversation_turns(conv)
                started = time.perf_counter()
                await service.write_episodes(path.stem, turns)
                await service.settle(path.stem)
                if not args.no_distill:
                    await ingestor.distill_space(path.stem)
                ingest_s += time.perf_counter() - started
                ingested += len(turns)
                known = {t.key for t in turns if t.key}
                for i, qa in enumerate(conv["qa"]):
                    gold = clean_evidence(qa.get("evidence", []), known)
                    if qa.get("category") in CATEGORIES and gold:
                        jobs.append((path.stem, i, qa, gold))
            for space, i, qa, gold in tqdm(jobs, desc=f"search ({args.mode})", file=sys.stderr, unit="q"):
                started = time.perf_counter()
                result = await service.search(
                    space, SearchQuery(query=qa["question"], top_k=20, mode=args.mode)
                )
                latencies.append((time.perf_counter() - started) * 1000)
                retrieved = list(dict.fromkeys(h.key for h in result.hits if h.key))[:20]
                predictions.append({"conversation": space, "question_index": i, "retrieved": retrieved})
                name = CATEGORIES[qa["category"]]
                for bucket in ("all", name):
                    per_k = recalls.setdefault(bucket, {k: [] for k in KS})
                    for k in KS:
                        per_k[k].append(len(set(gold) & set(retrieved[:k])) / len(gold))
            if args.tune_on:
                from agent.bench.memory_split import split_report

                split = await split_report(service, jobs, set(args.tune_on.split(",")))
        finally:
            await ingestor.aclose()
            await service.aclose()
    if args.predictions:
        with open(args.predictions, "w") as fh:
            for line in predictions:
                fh.write(json.dumps(line) + "\n")

    def summary(bucket: dict[int, list[float]]) -> dict[str, Any]:
        return {f"recall@{k}": round(statistics.fmean(v), 4) if v else 0.0 for k, v in bucket.items()} | {
            "n": len(bucket[KS[0]])
        }

    out: dict[str, Any] = summary(recalls["all"])
    out["by_category"] = {name: summary(recalls[name]) for name in CATEGORIES.values() if name in recalls}
    out["search_p50_ms"] = _pct(latencies, 0.50)
    out["search_p95_ms"] = _pct(latencies, 0.95)
    out["query_embed_p50_ms"] = _pct(embedder.query_ms, 0.50)
    out["query_embed_p95_ms"] = _pct(embedder.query_ms, 0.95)
    out["locomo_ingest_per_s"] = round(ingested / ingest_s, 1) if ingest_s else 0.0
    if split is not None:
        out["split"] = split
    _say(f"LoCoMo ({args.mode}, {args.embedder}): {len(latencies)} questions, {ingested} turns")
    _say("  overall     " + "  ".join(f"R@{k} {out[f'recall@{k}']:.3f}" for k in KS))
    for name, row in out["by_category"].items():
        _say(
            f"  {name:<11} " + "  ".join(f"R@{k} {row[f'recall@{k}']:.3f}" for k in KS) + f"  (n={row['n']})"
        )
    _say(
        f"  search p50 {out['search_p50_ms']:.1f} ms  p95 {out['search_p95_ms']:.1f} ms"
        f"  (of which query embedding p50 {out['query_embed_p50_ms']:.1f} ms  p95 {out['query_embed_p95_ms']:.1f} ms)"
    )
    return out


# -- synthetic: agent/bench/memory_scale.py ---------------------------------------------------------------
