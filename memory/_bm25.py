"""Keyword search's own read connection, and BM25 scored in numpy over FTS5's postings.

Why not FTS5's `bm25()`: it is evaluated once per matching row (~1.4 µs each, measured), and a 4-word query
over a million turns matches ~15,000 rows: 35 ms. Reading the same postings from an `fts5vocab` table and
scoring them in numpy gives the same scores (FTS5's formula: k1 1.2, b 0.75, idf clamped to 1e-6 when it is
not positive; a test pins them against `bm25()`) in a fraction of the time.

Why a connection of its own: a read-only WAL connection sees every committed write without taking the
space's lock, so a keyword search runs beside the graph walk (which holds the lock) and never waits for a
writer. It is opened on the first keyword search and costs the space two more descriptors (memory/_pool.py).

Words are turned into FTS5 tokens by FTS5 itself (a scratch table with the same tokenizer in this
connection's temp schema), so the stemming can never drift from the index's. A word that is several tokens
(`repo_search`: a phrase) is left to FTS5 (`None`), as are filters that the top matches do not satisfy.
"""

from __future__ import annotations

import math
import sqlite3
import threading
from pathlib import Path

import numpy as np

K1 = 1.2
B = 0.75
TABLES = ("episodes", "facts")
STEM_CACHE = 20_000
"""Distinct words whose tokens are remembered per space (cleared when full: a cache, not a vocabulary)."""


def _varint(data: bytes) -> int:
    """SQLite's variable-length integer (the docsize table's format): 7 bits a byte, big-endian."""
    value = 0
    for i, byte in enumerate(data[:9]):
        if i == 8:
            return (value << 8) | byte
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value
    return value


class _Lengths:
    """Every row's length in tokens (FTS5's docsize table), indexed by rowid, read incrementally."""

    def __init__(self) -> None:
        self.by_row = np.zeros(0, dtype=np.int32)
        self.count = 0
        self.total = 0
        self.last = 0

    def refresh(self, conn: sqlite3.Connection, table: str) -> None:
        rows = conn.execute(
            f"SELECT id, sz FROM {table}_fts_docsize WHERE id > ? ORDER BY id", (self.last,)
        ).fetchall()
        if not rows:
            return
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        blobs = [r[1] for r in rows]
        if all(len(b) == 1 for b in blobs):  # every row under 128 tokens: one byte each
            sizes = np.frombuffer(b"".join(blobs), dtype=np.uint8).astype(np.int32)
        else:
            sizes = np.fromiter((_varint(b) for b in blobs), dtype=np.int32, count=len(blobs))
        top = int(ids[-1]) + 1
        if top > len(self.by_row):
            grown = np.zeros(max(top, 2 * len(self.by_row), 1024), dtype=np.int32)
            grown[: len(self.by_row)] = self.by_row
            self.by_row = grown
        self.by_row[ids] = sizes
        self.count += len(rows)
        self.total += int(sizes.sum())
        self.last = int(ids[-1])


class KeywordReader:
    """One space's read-only connection for keyword search, and its BM25 state."""

    def __init__(self, path: Path) -> None:
        self.lock = threading.Lock()  # one statement at a time on this connection; never the space's lock
        self.conn = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False, isolation_level=None
        )
        try:
            for table in TABLES:
                self.conn.execute(
                    f"CREATE VIRTUAL TABLE temp.{table}_postings USING fts5vocab(main, {table}_fts, 'instance')"
                )
            self.conn.execute("CREATE VIRTUAL TABLE temp.stems USING fts5(word, tokenize='porter unicode61')")
            self.conn.execute(
                "CREATE VIRTUAL TABLE temp.stem_tokens USING fts5vocab(temp, stems, 'instance')"
            )
        except BaseException:
            self.conn.close()
            raise
        self._lengths = {table: _Lengths() for table in TABLES}
        self._tokens: dict[str, tuple[str, ...]] = {}

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    def tokens(self, words: list[str]) -> list[tuple[str, ...]]:
        """Each word's FTS5 tokens, as the index's tokenizer makes them (`running` -> `run`)."""
        fresh = [w for w in dict.fromkeys(words) if w not in self._tokens]
        if fresh:
            if len(self._tokens) + len(fresh) > STEM_CACHE:
                self._tokens.clear()
            self.conn.executemany("INSERT INTO temp.stems (rowid, word) VALUES (?, ?)", enumerate(fresh))
            found: dict[int, list[str]] = {i: [] for i in range(len(fresh))}
            for doc, term in self.conn.execute("SELECT doc, term FROM temp.stem_tokens ORDER BY doc, offset"):
                found[doc].append(term)
            self.conn.execute("DELETE FROM temp.stems")
            for i, word in enumerate(fresh):
                self._tokens[word] = tuple(found[i])
        return [self._tokens[w] for w in words]

    def scores(self, table: str, tokens: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(rowids, BM25 scores, higher is better) of every row holding any of the tokens; FTS5's formula,
        one term per query word (a word given twice counts twice, as FTS5 counts its phrases)."""
        lengths = self._lengths[table]
        lengths.refresh(self.conn, table)
        if lengths.count == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        average = lengths.total / lengths.count
        rows: list[np.ndarray] = []
        parts: list[np.ndarray] = []
        for token in tokens:
            # One string per term: SQLite walks the postings in C and numpy parses them (a row per
            # posting through Python costs 3x as much at 1M rows).
            (joined,) = self.conn.execute(
                f"SELECT group_concat(doc) FROM temp.{table}_postings WHERE term = ?", (token,)
            ).fetchone()
            if not joined:
                continue
            docs, tf = np.unique(np.fromstring(joined, dtype=np.int64, sep=","), return_counts=True)
            idf = math.log((lengths.count - len(docs) + 0.5) / (len(docs) + 0.5))
            idf = idf if idf > 0 else 1e-6
            norm = K1 * (1 - B + B * lengths.by_row[docs] / average)
            rows.append(docs)
            parts.append(idf * tf * (K1 + 1) / (tf + norm))
        if not rows:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        every, where = np.unique(np.concatenate(rows), return_inverse=True)
        return every, np.bincount(where, weights=np.concatenate(parts))
