"""The approximate nearest-neighbour graph of one space (usearch HNSW), kept in a file beside its database.

SQLite stays the source of truth: the file is a cache that is saved atomically (write, then rename), loaded
when it matches the database, repaired incrementally when it lags (rows embedded since the last save), and
rebuilt from the stored vectors when it is missing, unreadable or built with other settings. Keys pack the
item type into the low bit (episodes even, facts odd), so one graph serves both.

The graph holds 8-bit vectors: it only has to find candidates, and VectorIndex re-scores them with the exact
float32 vectors from SQLite, so quantisation costs no recall while it makes the walk ~2x and the build ~5x
faster and the graph 3.4x smaller than float32 (measured below).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
from usearch.index import Index

logger = logging.getLogger(__name__)

DTYPE = "i8"
CONNECTIVITY = 16
EXPANSION_ADD = 128
EXPANSION_SEARCH = 512
"""Measured on this machine (2 shared cores, loaded: timings ±50 %) on the vectors and queries of
`agent bench memory --synthetic 100000` (4-word fragments against ~40-word turns: a query lacks the component
every stored turn shares, the hard case for a graph walk; no duplicate rows, and only 0.3 rows per query tie
the 10th within 1e-3). Recall@10 of the top 10 after exact re-scoring of 60 candidates; search = the graph:

    dtype M  efc ef    recall  search p95  build  graph
    f32   16 64  256   0.900   3.7 ms      147 s  286 MB   (the previous setting: the walk was too narrow)
    f32   16 64  512   0.962   7.2 ms
    f32   16 64  1024  0.985   11 ms
    i8    16 64  1024  0.989   5.2 ms      31 s   85 MB
    i8    16 64  512   0.962   2.8 ms             (built with threads=1: 0.956, 32 s: threads do no harm)
    i8    16 128 512   0.988   3.0 ms p50  68 s   85 MB    (chosen)
    i8    24 96  512   0.982   3.3 ms p50  150 s  118 MB
    i8    32 128 512   0.988   9 ms p50    163 s  118 MB

A better graph (expansion_add 128) buys more than more links or a wider walk at query time. Through the
search path (VectorIndex.top, re-scored from SQLite) the bench printed ann_recall_at_10 0.989, dense p95 4.6 ms.
"""
SCALE_FROM = 100_000
SCALE_POWER = 0.4
MAX_EXPANSION = 4096
"""A walk of fixed width finds less of the true top 10 as the graph grows, so past SCALE_FROM vectors the
width grows as (size / SCALE_FROM) ** SCALE_POWER. Measured on the 1M corpus of `agent bench memory
--synthetic 1000000 --keep` (the graph search through VectorIndex.top, 300 queries, loaded machine):

    ef     recall@10  p50      p95
    512    0.929      9.4 ms   25 ms
    768    0.962      12 ms    17 ms
    1024   0.977      16 ms    39 ms
    1280   0.984      19 ms    27 ms   (the rule gives 1286 at 1M)
    1536   0.988      22 ms    26 ms
    2048   0.993      27 ms    62 ms

Re-scoring 120 or 250 candidates instead of 60 changed no recall figure: the loss is the walk, not the
8-bit vectors.
"""


def expansion_search(size: int) -> int:
    if size <= SCALE_FROM:
        return EXPANSION_SEARCH
    return min(MAX_EXPANSION, int(EXPANSION_SEARCH * (size / SCALE_FROM) ** SCALE_POWER))


def pack(item_type: int, rowid: int) -> int:
    return rowid * 2 + item_type


def pack_many(item_types: np.ndarray, rowids: np.ndarray) -> np.ndarray:
    return rowids.astype(np.uint64) * np.uint64(2) + item_types.astype(np.uint64)


def unpack(key: int) -> tuple[int, int]:
    return key & 1, key >> 1


class AnnIndex:
    def __init__(self, path: Path | None, dim: int) -> None:
        self.path = path
        self.dim = dim
        self.dirty = 0  # adds and removes since the last save
        self.index = self._new()

    def _new(self) -> Index:
        return Index(
            ndim=self.dim,
            metric="cos",
            dtype=DTYPE,
            connectivity=CONNECTIVITY,
            expansion_add=EXPANSION_ADD,
            expansion_search=EXPANSION_SEARCH,
        )

    def load(self) -> bool:
        """Reads the saved graph; False (and an empty graph) when it is missing, unreadable or was built
        with other settings (a file of an older version is rebuilt rather than searched at its old recall)."""
        if self.path is None or not self.path.exists():
            return False
        try:
            restored = Index.restore(str(self.path))
        except Exception as exc:  # a truncated or foreign file: rebuilt from SQLite
            logger.warning("memory index %s is unreadable (%s); rebuilding it", self.path.name, exc)
            restored = None
        if (
            restored is None
            or restored.ndim != self.dim
            or restored.connectivity != CONNECTIVITY
            or str(restored.dtype).rsplit(".", 1)[-1].lower() != DTYPE
        ):
            self.index = self._new()
            return False
        # The file keeps the graph but not the search settings: restore() comes back with usearch's defaults.
        restored.expansion_search = EXPANSION_SEARCH  # type: ignore[misc]
        restored.expansion_add = EXPANSION_ADD  # type: ignore[misc]
        self.index = restored
        return True

    def save(self) -> None:
        if self.path is None or not self.dirty:
            return
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        self.index.save(str(tmp))
        os.replace(tmp, self.path)
        self.dirty = 0

    def drop(self) -> None:
        """Forgets every vector (another embedder): the file goes too, so a crash cannot bring it back."""
        self.index = self._new()
        self.dirty = 0
        if self.path is not None:
            self.path.unlink(missing_ok=True)

    def __len__(self) -> int:
        return len(self.index)

    def keys(self) -> np.ndarray:
        return np.asarray(self.index.keys, dtype=np.uint64)

    def contains(self, keys: np.ndarray) -> np.ndarray:
        if len(keys) == 0:
            return np.zeros(0, dtype=bool)
        return np.asarray(self.index.contains(keys), dtype=bool)

    def add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        if len(keys) == 0:
            return
        fresh = ~self.contains(keys)
        if not fresh.all():
            keys, vectors = keys[fresh], vectors[fresh]
        if len(keys):
            threads = 0 if len(keys) > 512 else 1  # big batches (a rebuild) use every core
            self.index.add(keys, np.ascontiguousarray(vectors, dtype=np.float32), threads=threads)
            self.dirty += len(keys)

    def remove(self, keys: np.ndarray) -> None:
        if len(keys):
            self.index.remove(keys)
            self.dirty += len(keys)

    def search(self, query: np.ndarray, n: int, exact: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(keys, approximate cosine similarities from the 8-bit vectors), best first."""
        if len(self.index) == 0 or n <= 0:
            return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.float32)
        width = expansion_search(len(self.index))
        if self.index.expansion_search != width:
            self.index.expansion_search = width  # type: ignore[misc]
        matches = self.index.search(np.asarray(query, dtype=np.float32), min(n, len(self.index)), exact=exact)
        return np.asarray(matches.keys, dtype=np.uint64), 1.0 - np.asarray(matches.distances)

    def vectors(self, keys: np.ndarray) -> np.ndarray:
        """The graph's (8-bit, so approximate) copies of these vectors, as float32; zeros for absent keys."""
        got = self.index.get(keys, dtype="f32")
        items = got if isinstance(got, tuple) else [got]
        rows = [v if v is not None else np.zeros(self.dim, np.float32) for v in items]
        return np.asarray(rows, dtype=np.float32).reshape(len(keys), self.dim)
