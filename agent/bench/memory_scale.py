"""`agent bench memory --synthetic N`: a space of N episodes, and the model's rate measured beside ingestion.

The N-episode corpus is embedded by a fast synthetic embedder (MiniLM would take hours at 1M): each word has
a fixed random vector in a 32-dimensional latent space, projected to 384 dimensions, and a text is the mean
of its words. Like sentence embeddings (and unlike hashed bags of words, which are nearly orthogonal and
defeat any graph index) the vectors have a low intrinsic dimension, so ANN recall measured on them is
meaningful. Ingest and raw batch rates are measured with MiniLM itself on a 2,000-episode sample, in the
same command.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import re
import resource
import shutil
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from agent.bench.memory import _pct, _say
from memory import EpisodeIn, MemoryService, MiniLMEmbedder, SearchQuery
from memory._embedder import EmbedderId
from memory._search import candidates
from memory._search import dense as run_dense
from memory._search import keyword as run_keyword
from memory._store import SpaceStore

_NAMES = ["Alice", "Bruno", "Chen", "Dana", "Emeka", "Farah", "Goran", "Hana", "Ivan", "Jun"]
_TOOLS = ["repo_search", "file_read", "deploy", "browser_open", "run_tests"]
_WORD = re.compile(r"\w+")
SAMPLE = 2000
QUERIES = 300


class LatentEmbedder:
    """Deterministic dense vectors of low intrinsic dimension (see the module docstring)."""

    name = "synthetic-latent-32"
    version = "1"
    dim = 384
    loaded = True

    def __init__(self, latent: int = 32, seed: int = 3) -> None:
        rng = np.random.default_rng(seed)
        self.latent = latent
        self.proj = rng.standard_normal((latent, self.dim)).astype(np.float32)
        self._ids: dict[str, int] = {}
        self._table = np.zeros((0, latent), dtype=np.float32)

    def _word_ids(self, words: list[str]) -> list[int]:
        out = []
        fresh: list[np.ndarray] = []
        for word in words:
            index = self._ids.get(word)
            if index is None:
                index = self._ids[word] = len(self._ids)
                seed = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
                fresh.append(np.random.default_rng(seed).standard_normal(self.latent).astype(np.float32))
            out.append(index)
        if fresh:
            self._table = np.concatenate([self._table, np.stack(fresh)])
        return out

    def embed_sync(self, texts: list[str]) -> np.ndarray:
        tokens = [_WORD.findall(t.lower()) or ["_"] for t in texts]
        flat = self._word_ids([w for ws in tokens for w in ws])
        starts = np.cumsum([0] + [len(ws) for ws in tokens[:-1]])
        sums = np.add.reduceat(self._table[flat], starts, axis=0)
        means = sums / np.asarray([len(ws) for ws in tokens], dtype=np.float32)[:, None]
        x: np.ndarray = means @ self.proj
        out: np.ndarray = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-9)
        return out

    async def embed(self, texts: list[str]) -> np.ndarray:
        return await asyncio.to_thread(self.embed_sync, texts)


def synthetic_chunks(n: int, chunk: int = 5000, seed: int = 7) -> Iterator[list[EpisodeIn]]:
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(5000)]
    start = datetime(2024, 1, 1, tzinfo=UTC).timestamp()
    out: list[EpisodeIn] = []
    for i in range(n):
        run = i // 20
        kind = ("user_message", "assistant_message", "tool_result")[i % 3]
        who = rng.choice(_NAMES)
        words = " ".join(rng.choices(vocab, k=rng.randint(8, 30)))
        text = f"{who} asked about {rng.choice(_TOOLS)} in /src/mod{rng.randint(0, 300)}.py: {words}"
        out.append(
            EpisodeIn.model_construct(
                text=text,
                kind=kind,
                role=None,
                speaker=None,
                run_id=f"run-{run}",
                session_id=f"s-{run // 5}",
                thread_id=f"t-{run // 5}",
                tool_call_id=f"call-{i}" if kind == "tool_result" else None,
                key=None,
                metadata={},
                occurred_at=start + i * 60,
                sequence=None,
            )
        )
        if len(out) >= chunk:
            yield out
            out = []
    if out:
        yield out


def synthetic_episodes(n: int, seed: int = 7) -> list[EpisodeIn]:
    return [e for chunk in synthetic_chunks(n, seed=seed) for e in chunk]


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


async def _timed(count: int, make: Any) -> list[float]:
    out: list[float] = []
    for i in range(count):
        started = time.perf_counter()
        await make(i)
        out.append((time.perf_counter() - started) * 1000)
    return out


CORPUS_FORMAT = 1
"""Bumped when the synthetic corpus changes, so a kept corpus of another format is rebuilt."""


def _marker(n: int) -> str:
    return json.dumps({"episodes": n, "embedder": LatentEmbedder.name, "format": CORPUS_FORMAT})


async def _build(service: MemoryService, n: int, rng: random.Random) -> list[str]:
    """Writes the N-episode corpus and waits for every vector; returns the texts queries are cut from."""
    started = time.perf_counter()

    async def progress() -> None:
        while True:
            await asyncio.sleep(30)
            done = service.worker.embedded
            _say(
                f"  vectors: {done}/{n} in the graph ({time.perf_counter() - started:.0f} s, rss {rss_mb()} MB)"
            )

    reporter = asyncio.ensure_future(progress())
    sample: list[str] = []
    written = 0
    for chunk in synthetic_chunks(n):
        await service.write_episodes("synth", chunk)
        sample.extend(rng.sample([e.text for e in chunk], k=min(len(chunk), 60)))
        written += len(chunk)
        if written % 100_000 == 0:
            _say(f"  corpus: {written}/{n} rows written ({time.perf_counter() - started:.0f} s)")
    write_s = time.perf_counter() - started
    await service.settle()
    reporter.cancel()
    _say(
        f"  corpus: {n} rows in {write_s:.1f} s, vectors and ANN graph after {time.perf_counter() - started:.1f} s"
    )
    return sample


def _sample(n: int, rng: random.Random) -> list[str]:
    """The texts _build would have sampled, without writing anything (a kept corpus)."""
    sample: list[str] = []
    for chunk in synthetic_chunks(n):
        sample.extend(rng.sample([e.text for e in chunk], k=min(len(chunk), 60)))
    return sample


async def synthetic(n: int, keep: Path | None = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="memory-synth-") as scratch:
        return await _synthetic(n, keep or Path(scratch), scratch=Path(scratch))


async def _synthetic(n: int, root: Path, scratch: Path) -> dict[str, Any]:
    rng = random.Random(11)
    fast = LatentEmbedder()
    root.mkdir(parents=True, exist_ok=True)
    marker = root / "corpus.json"
    kept = marker.exists() and marker.read_text() == _marker(n)
    if not kept and root != scratch:
        shutil.rmtree(root / "memory", ignore_errors=True)
        marker.unlink(missing_ok=True)
    service = MemoryService(root, fast)
    service.worker.batch = 8192  # the synthetic model is instant: big batches keep SQLite busy, not Python
    started = time.perf_counter()
    if kept:
        _say(f"  corpus: reusing the {n}-row corpus kept in {root}")
        sample = _sample(n, rng)
        await service.store("synth")
        await service.settle()
    else:
        sample = await _build(service, n, rng)
        marker.write_text(_marker(n))
    build_s = time.perf_counter() - started
    store = await service.store("synth")
    queries = [" ".join(t.split()[-6:][:4]) for t in rng.sample(sample, min(QUERIES, len(sample)))]
    qvecs = fast.embed_sync(queries)
    for text, vector in zip(queries, qvecs, strict=True):
        service.queries.put(service.identity, text, vector)
    _say(f"  recall: exact scan of {n} stored vectors for {len(queries)} queries …")
    true_ids, true_sims = exact_top(store, qvecs, 10)
    # Recall of what the search path returns: the dense side's top 10 (graph candidates re-scored with
    # the stored vectors) against the exact top 10 of the stored vectors. As ann-benchmarks defines it, a
    # returned row counts when it is at least as similar as the exact 10th (within 1e-3), so near-ties at
    # rank 10 are not misses; the strict id overlap is reported beside it.
    found = strict = exact = 0
    dense_ms: list[float] = []
    keyword_ms: list[float] = []
    for i, vector in enumerate(qvecs):
        q = SearchQuery(query=queries[i], top_k=10)
        began = time.perf_counter()
        got = run_dense(store, q, vector, candidates(q))[:10]
        dense_ms.append((time.perf_counter() - began) * 1000)
        began = time.perf_counter()
        run_keyword(store, q, candidates(q))
        keyword_ms.append((time.perf_counter() - began) * 1000)
        sims = np.asarray([s for _, _, s in got], dtype=np.float32)
        found += int(np.sum(sims >= true_sims[i][-1] - 1e-3))
        strict += len({r for _, r, _ in got} & set(true_ids[i].tolist()))
        exact += len(true_ids[i])
    ann_recall = found / exact if exact else 0.0
    ann_recall_ids = strict / exact if exact else 0.0
    _say(f"  recall@10 {ann_recall:.4f} (ids {ann_recall_ids:.4f})")

    async def hybrid(i: int) -> None:
        await service.search("synth", SearchQuery(query=queries[i % len(queries)], top_k=10))

    async def graph(i: int) -> None:
        await service.graph("synth", {"entity": _NAMES[i % len(_NAMES)], "max_depth": 2, "limit": 50})

    async def timeline(i: int) -> None:
        at = datetime(2024, 1, 1, tzinfo=UTC).timestamp() + rng.randrange(n) * 60
        await service.timeline("synth", {"from": at, "to": at + 86400, "limit": 20})

    async def provenance(i: int) -> None:
        await service.provenance("synth", f"ep:{rng.randrange(n) + 1}")

    await _timed(20, hybrid)  # warm caches
    hybrid_ms = await _timed(QUERIES, hybrid)
    from memory import MemoryIngestor

    ingestor = MemoryIngestor(service)
    for run in range(min(n // 20, 200)):
        await ingestor.distill_run("synth", f"run-{run}")
    graph_ms = await _timed(100, graph)
    timeline_ms = await _timed(200, timeline)
    provenance_ms = await _timed(300, provenance)
    rss_corpus = rss_mb()
    await ingestor.aclose()
    await service.aclose()
    size = sum(p.stat().st_size for p in (root / "memory").glob("synth.*"))

    rates = await model_rates(scratch / "minilm")
    minilm: MiniLMEmbedder = rates.pop("embedder")
    query_ms = []
    for text in queries:
        began = time.perf_counter()
        await minilm.embed([text])
        query_ms.append((time.perf_counter() - began) * 1000)
    with_embed = [a + b for a, b in zip(hybrid_ms, query_ms, strict=False)]
    out = {
        "episodes": n,
        "corpus_kept": kept,
        "build_s": round(build_s, 1),
        **({} if kept else {"corpus_ingest_per_s": round(n / build_s, 1)}),
        **rates,
        "hybrid_p50_ms": _pct(hybrid_ms, 0.5),
        "hybrid_p95_ms": _pct(hybrid_ms, 0.95),
        "hybrid_p50_ms_with_query_embed": _pct(with_embed, 0.5),
        "hybrid_p95_ms_with_query_embed": _pct(with_embed, 0.95),
        "query_embed_p95_ms": _pct(query_ms, 0.95),
        "ann_recall_at_10": round(ann_recall, 4),
        "ann_recall_at_10_ids": round(ann_recall_ids, 4),
        "dense_p95_ms": _pct(dense_ms, 0.95),
        "keyword_p95_ms": _pct(keyword_ms, 0.95),
        "graph_p95_ms": _pct(graph_ms, 0.95),
        "timeline_p95_ms": _pct(timeline_ms, 0.95),
        "provenance_p95_ms": _pct(provenance_ms, 0.95),
        "rss_mb": rss_corpus,
        "rss_mb_with_model": rss_mb(),
        "disk_mb": round(size / 1e6, 1),
    }
    _say(f"synthetic {n} episodes: " + ", ".join(f"{k} {v}" for k, v in out.items()))
    return out


def exact_top(store: SpaceStore, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each query's k most similar episodes by the stored float32 vectors (a full scan, in chunks)."""
    best_ids = np.zeros((len(queries), 0), dtype=np.int64)
    best_sims = np.zeros((len(queries), 0), dtype=np.float32)
    last = 0
    while True:
        rows = store.conn.execute(
            "SELECT id, embedding FROM episodes WHERE id > ? AND embedding IS NOT NULL ORDER BY id LIMIT 50000",
            (last,),
        ).fetchall()
        if not rows:
            break
        last = rows[-1][0]
        ids = np.asarray([r[0] for r in rows], dtype=np.int64)
        vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), -1)
        sims = np.concatenate([best_sims, queries @ vectors.T], axis=1)
        every = np.concatenate([best_ids, np.broadcast_to(ids, (len(queries), len(ids)))], axis=1)
        order = np.argsort(-sims, axis=1)[:, :k]
        best_sims = np.take_along_axis(sims, order, axis=1)
        best_ids = np.take_along_axis(every, order, axis=1)
    return best_ids, best_sims


def model_inputs(folder: Path, episodes: list[EpisodeIn]) -> list[str]:
    """The exact texts the embedding worker will give the model for these episodes (a turn and the start of
    the one before it), so the raw rate and the ingest rate embed the same inputs."""
    store = SpaceStore(folder / "inputs.db", EmbedderId("inputs", 384, "0"), "inputs")
    store.insert_episodes(episodes)
    texts = [text for _, _, text in store.unembedded(len(episodes))]
    store.close()
    return texts


async def model_rates(folder: Path) -> dict[str, Any]:
    """MiniLM's raw batch rate and the ingest rate through write + embedding worker, same texts, same run."""
    episodes = synthetic_episodes(SAMPLE, seed=13)
    texts = model_inputs(folder / "inputs", episodes)
    minilm = MiniLMEmbedder()
    _say("loading MiniLM …")
    await minilm.load()
    await minilm.embed(texts[:64])  # warm-up
    started = time.perf_counter()
    await minilm.embed(texts)
    raw = len(texts) / (time.perf_counter() - started)
    service = MemoryService(folder, minilm)
    started = time.perf_counter()
    for i in range(0, len(episodes), 100):  # the live pattern: small writes from many runs
        await service.write_episodes(f"space-{i // 500}", episodes[i : i + 100])
    await service.settle()
    ingest = len(episodes) / (time.perf_counter() - started)
    await service.aclose()
    _say(f"  MiniLM: raw batch {raw:.1f}/s, ingest {ingest:.1f}/s ({ingest / raw:.0%} of raw)")
    return {
        "raw_embed_per_s": round(raw, 1),
        "ingest_per_s": round(ingest, 1),
        "ingest_share_of_raw": round(ingest / raw, 3),
        "embedder": minilm,
    }
