"""One space's dense index: the ANN graph (memory/_ann.py) plus the columns search filters on.

The columns (item type, row id, kind, session, thread, run, world time) are small numpy arrays, one slot per
vector, so a filter is a boolean mask and never a table scan. An unfiltered query asks the graph; a filtered
one asks the graph for more and keeps what passes, and a narrow filter (few rows pass) scores exactly the rows
that pass, so filters never lose hits to approximation.

The graph's vectors are 8-bit (memory/_ann.py), so every candidate it returns is re-scored with its exact
float32 vector (`exact_vectors`, read from SQLite, the source of truth) before the best n are kept: the
scores a search returns are exact cosines, and the graph only has to get the right rows into its candidates.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from memory._ann import AnnIndex, pack_many

EPISODE, FACT = 0, 1
_FIELDS = ("kind", "session", "thread", "run")
EXACT_BELOW = 2048
"""A filter that passes fewer rows than this is scored exactly (fetching that many vectors costs ~1 ms)."""
MAX_OVERSAMPLE = 4096
RESCORE_AT_LEAST = 60
"""Candidates asked of the graph and re-scored exactly, however few hits are wanted (recall@10 measured with
60 in memory/_ann.py; hybrid search asks for 60 anyway)."""

ExactVectors = Callable[[np.ndarray], np.ndarray]
"""Packed keys -> their exact float32 vectors, one row per key (zeros for a key without one)."""

Meta = tuple[str, str | None, str | None, str | None, float | None]  # kind, session, thread, run, occurred


class VectorIndex:
    def __init__(self, dim: int, path: Path | None = None, exact_vectors: ExactVectors | None = None) -> None:
        self.dim = dim
        self.ann = AnnIndex(path, dim)
        self.exact_vectors = exact_vectors or self.ann.vectors
        self.size = 0
        self._types = np.zeros(0, dtype=np.int8)
        self._rowids = np.zeros(0, dtype=np.int64)
        self._occurred = np.zeros(0, dtype=np.float64)
        self._columns = {name: np.zeros(0, dtype=np.int32) for name in _FIELDS}
        self._codes: dict[str, dict[str | None, int]] = {name: {} for name in _FIELDS}
        self._slot = [np.full(0, -1, dtype=np.int64), np.full(0, -1, dtype=np.int64)]  # rowid -> slot

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
            out = np.zeros(new, dtype=array.dtype)
            out[:capacity] = array
            return out

        self._types = grown(self._types)
        self._rowids = grown(self._rowids)
        self._occurred = grown(self._occurred)
        self._columns = {name: grown(column) for name, column in self._columns.items()}

    def _slots_for(self, item_type: int, rowids: np.ndarray) -> np.ndarray:
        table = self._slot[item_type]
        top = int(rowids.max()) + 1 if len(rowids) else 0
        if top > len(table):
            grown = np.full(max(top, len(table) * 2, 1024), -1, dtype=np.int64)
            grown[: len(table)] = table
            self._slot[item_type] = table = grown
        return table

    def has(self, item_type: int, rowid: int) -> bool:
        table = self._slot[item_type]
        return rowid < len(table) and table[rowid] >= 0

    def track(self, item_type: int, rowids: Sequence[int], meta: Sequence[Meta]) -> None:
        """Registers the filter columns of rows whose vectors are (or are being put) in the graph."""
        ids = np.asarray(rowids, dtype=np.int64)
        table = self._slots_for(item_type, ids)
        fresh = [i for i, r in enumerate(rowids) if table[r] < 0]
        if not fresh:
            return
        self._grow(self.size + len(fresh))
        for i in fresh:
            slot = self.size
            kind, session, thread, run, occurred = meta[i]
            self._types[slot] = item_type
            self._rowids[slot] = rowids[i]
            self._occurred[slot] = math.nan if occurred is None else occurred
            for name, value in zip(_FIELDS, (kind, session, thread, run), strict=True):
                self._columns[name][slot] = self._code(name, value)
            table[rowids[i]] = slot
            self.size += 1

    def add(self, item_type: int, rowids: Sequence[int], vectors: np.ndarray, meta: Sequence[Meta]) -> None:
        if len(rowids) == 0:
            return
        self.track(item_type, rowids, meta)
        ids = np.asarray(rowids, dtype=np.int64)
        self.ann.add(pack_many(np.full(len(ids), item_type), ids), vectors)

    def clear(self) -> None:
        path = self.ann.path
        self.__init__(self.dim, path, self.exact_vectors)  # type: ignore[misc]
        self.ann.drop()

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
        """Slots passing every filter (None = no filter). Facts have kind "fact"."""
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
        """The n best (type, rowid, cosine) rows, best first, scored with the exact vectors."""
        if len(self.ann) == 0 or n <= 0:
            return []
        query = np.asarray(query, dtype=np.float32)
        if mask is None:
            keys, _ = self.ann.search(query, max(n, RESCORE_AT_LEAST))
            return self._rescore(query, keys, n)
        passing = int(mask.sum())
        if passing == 0:
            return []
        if passing > EXACT_BELOW:
            want = min(MAX_OVERSAMPLE, max(n, RESCORE_AT_LEAST) * max(2, 2 * self.size // passing))
            keys, _ = self.ann.search(query, want)
            kept: list[int] = []
            for key in keys.tolist():
                item_type, rowid = key & 1, key >> 1
                table = self._slot[item_type]
                if rowid < len(table) and table[rowid] >= 0 and mask[table[rowid]]:
                    kept.append(key)
                    if len(kept) >= max(n, RESCORE_AT_LEAST):
                        break
            if len(kept) >= n or want >= len(self.ann):
                return self._rescore(query, np.asarray(kept, dtype=np.uint64), n)
        return self._exact(query, n, np.nonzero(mask)[0])

    def _rescore(self, query: np.ndarray, keys: np.ndarray, n: int) -> list[tuple[int, int, float]]:
        if len(keys) == 0:
            return []
        scores = self.exact_vectors(keys) @ query
        order = np.argsort(-scores, kind="stable")[:n]
        return [(int(keys[i]) & 1, int(keys[i]) >> 1, float(scores[i])) for i in order]

    def _exact(self, query: np.ndarray, n: int, slots: np.ndarray) -> list[tuple[int, int, float]]:
        """Every passing row scored with its exact vector (a narrow filter passes at most EXACT_BELOW rows,
        or the graph could not find n passing rows)."""
        best: list[tuple[int, int, float]] = []
        for start in range(0, len(slots), 65536):
            chunk = slots[start : start + 65536]
            best.extend(self._rescore(query, pack_many(self._types[chunk], self._rowids[chunk]), n))
        best.sort(key=lambda t: -t[2])
        return best[:n]
