"""One space's dense index: the ANN graph (memory/_ann.py) plus the columns search filters on.

The columns (item type, row id, kind, session, thread, run, world time) are small numpy arrays, one slot per
vector, so a filter is a boolean mask and never a table scan. An unfiltered query asks the graph; a filtered
one asks the graph for more and keeps what passes, and a narrow filter (few rows pass) scores exactly the rows
that pass, so filters never lose hits to approximation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from memory._ann import AnnIndex, pack_many

EPISODE, FACT = 0, 1
_FIELDS = ("kind", "session", "thread", "run")
EXACT_BELOW = 2048
"""A filter that passes fewer rows than this is scored exactly (fetching that many vectors costs ~1 ms)."""
MAX_OVERSAMPLE = 4096

Meta = tuple[str, str | None, str | None, str | None, float | None]  # kind, session, thread, run, occurred


class VectorIndex:
    def __init__(self, dim: int, path: Path | None = None) -> None:
        self.dim = dim
        self.ann = AnnIndex(path, dim)
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
        self.__init__(self.dim, path)  # type: ignore[misc]
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
        """The n best (type, rowid, cosine) rows, best first."""
        if len(self.ann) == 0 or n <= 0:
            return []
        query = np.asarray(query, dtype=np.float32)
        if mask is None:
            keys, scores = self.ann.search(query, n)
            return [(int(k) & 1, int(k) >> 1, float(s)) for k, s in zip(keys, scores, strict=True)]
        passing = int(mask.sum())
        if passing == 0:
            return []
        if passing > EXACT_BELOW:
            want = min(MAX_OVERSAMPLE, n * max(2, 2 * self.size // passing))
            keys, scores = self.ann.search(query, want)
            out: list[tuple[int, int, float]] = []
            for key, score in zip(keys.tolist(), scores.tolist(), strict=True):
                item_type, rowid = key & 1, key >> 1
                table = self._slot[item_type]
                if rowid < len(table) and table[rowid] >= 0 and mask[table[rowid]]:
                    out.append((item_type, rowid, float(score)))
                    if len(out) >= n:
                        return out
            if len(out) >= n or want >= len(self.ann):
                return out
        return self._exact(query, n, np.nonzero(mask)[0])

    def _exact(self, query: np.ndarray, n: int, slots: np.ndarray) -> list[tuple[int, int, float]]:
        best: list[tuple[int, int, float]] = []
        for start in range(0, len(slots), 65536):
            chunk = slots[start : start + 65536]
            keys = pack_many(self._types[chunk], self._rowids[chunk])
            scores = self.ann.vectors(keys) @ query
            for i in np.argsort(-scores)[:n]:
                best.append((int(self._types[chunk[i]]), int(self._rowids[chunk[i]]), float(scores[i])))
        best.sort(key=lambda t: -t[2])
        return best[:n]
