"""An in-memory dense index over one space's episodes and facts, with the columns filters need.

SQLite holds the vectors as float32 blobs (the durable copy); this is the hot copy, loaded once and then
appended to on every write, so a search is one matrix-vector product plus a boolean mask, no table scan.
"""

from __future__ import annotations

import math

import numpy as np

EPISODE, FACT = 0, 1
_FIELDS = ("kind", "session", "thread", "run")


class VectorIndex:
    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.size = 0
        self._vectors = np.zeros((0, dim), dtype=np.float32)
        self._types = np.zeros(0, dtype=np.int8)
        self._rowids = np.zeros(0, dtype=np.int64)
        self._occurred = np.zeros(0, dtype=np.float64)
        self._columns = {name: np.zeros(0, dtype=np.int32) for name in _FIELDS}
        self._codes: dict[str, dict[str | None, int]] = {name: {} for name in _FIELDS}

    def _code(self, field: str, value: str | None) -> int:
        codes = self._codes[field]
        if value not in codes:
            codes[value] = len(codes)
        return codes[value]

    def _grow(self, needed: int) -> None:
        capacity = len(self._rowids)
        if needed <= capacity:
            return
        new = max(needed, capacity * 2, 1024)

        def grown(array: np.ndarray) -> np.ndarray:
            out = np.zeros((new, *array.shape[1:]), dtype=array.dtype)
            out[:capacity] = array
            return out

        self._vectors = grown(self._vectors)
        self._types = grown(self._types)
        self._rowids = grown(self._rowids)
        self._occurred = grown(self._occurred)
        self._columns = {name: grown(column) for name, column in self._columns.items()}

    def add(
        self,
        item_type: int,
        rowid: int,
        vector: np.ndarray,
        *,
        kind: str,
        session: str | None,
        thread: str | None,
        run: str | None,
        occurred: float | None,
    ) -> None:
        if vector.shape[-1] != self.dim:
            return  # written by a different embedder: searchable by keyword only
        self._grow(self.size + 1)
        i = self.size
        self._vectors[i] = vector
        self._types[i] = item_type
        self._rowids[i] = rowid
        self._occurred[i] = math.nan if occurred is None else occurred
        for name, value in zip(_FIELDS, (kind, session, thread, run), strict=True):
            self._columns[name][i] = self._code(name, value)
        self.size += 1

    def _match(self, field: str, values: list[str]) -> np.ndarray:
        codes = [self._codes[field][v] for v in values if v in self._codes[field]]
        return np.isin(self._columns[field][: self.size], codes)

    def mask(
        self,
        *,
        kinds: list[str] | None = None,
        session: str | None = None,
        thread: str | None = None,
        run: str | None = None,
        since: float | None = None,
        until: float | None = None,
    ) -> np.ndarray | None:
        """Rows passing every filter (None = no filter). Facts have kind "fact"."""
        mask: np.ndarray | None = None

        def both(part: np.ndarray) -> None:
            nonlocal mask
            mask = part if mask is None else mask & part

        if kinds is not None:
            both(self._match("kind", kinds))
        for field, value in (("session", session), ("thread", thread), ("run", run)):
            if value is not None:
                both(self._match(field, [value]))
        occurred = self._occurred[: self.size]
        if since is not None:
            both(occurred >= since)
        if until is not None:
            both(occurred <= until)
        return mask

    def top(self, query: np.ndarray, n: int, mask: np.ndarray | None = None) -> list[tuple[int, int, float]]:
        """The n best (type, rowid, cosine) rows, best first."""
        if self.size == 0:
            return []
        scores = self._vectors[: self.size] @ query.astype(np.float32)
        if mask is not None:
            scores = np.where(mask, scores, -np.inf)
        n = min(n, self.size)
        best = np.argpartition(-scores, n - 1)[:n]
        best = best[np.argsort(-scores[best])]
        return [
            (int(self._types[i]), int(self._rowids[i]), float(scores[i]))
            for i in best
            if np.isfinite(scores[i])
        ]

    def scores_for(self, query: np.ndarray, item_type: int, rowids: list[int]) -> dict[int, float]:
        """Cosine of specific rows (used to score neighbours and graph hits)."""
        if not rowids or self.size == 0:
            return {}
        types = self._types[: self.size]
        wanted = np.isin(self._rowids[: self.size], rowids) & (types == item_type)
        idx = np.nonzero(wanted)[0]
        scores = self._vectors[idx] @ query.astype(np.float32)
        return {int(self._rowids[i]): float(s) for i, s in zip(idx, scores, strict=True)}
