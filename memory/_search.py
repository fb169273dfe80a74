"""Hybrid search: FTS5 BM25 and cosine over the vectors, fused by reciprocal rank, then re-ranked with what
the substrate knows beyond a flat index (who spoke, neighbouring turns, recency).

Query text never reaches SQL as syntax: it is split into words and each word is passed as a quoted FTS5
string inside a bound parameter, so `'); DROP TABLE` is just three search words.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from memory._bm25 import KeywordReader
from memory._index import EPISODE, FACT
from memory._models import SearchHit, SearchQuery
from memory._store import SpaceStore, caller_key
from memory._timeparse import iso

RRF_K = 60


@dataclass(frozen=True)
class Tuning:
    """How hybrid search weighs its signals (fixed defaults; passed explicitly so benchmarks can compare)."""

    keyword_weight: float = 1.0
    dense_weight: float = 1.0
    next_weight: float = (
        0.0  # the turn after a match inherits this share of its score (answers follow questions)
    )
    question_weight: float = 0.0  # extra share for the turn after a match that asks a question
    prev_weight: float = 0.0  # the turn before a match inherits this share (the question a match answers)
    speaker_boost: float = 0.0  # episodes by a speaker the query names are scored up by this factor
    session_weight: float = 0.0
    """Session structure: a conversation keeps to a topic for a session, so a weak match inside the session
    where the strongest matches are is likelier evidence than an equal match elsewhere. Each episode gains
    this share of its session's best fused score."""


# Chosen on a coarse grid over the LoCoMo dev files (see agent/bench/memory.py); round numbers on purpose.
DEFAULT_TUNING = Tuning(
    keyword_weight=1.0,
    dense_weight=0.5,
    next_weight=0.1,
    question_weight=0.6,
    prev_weight=0.2,
    speaker_boost=0.7,
)
MAX_TERMS = 32
_WORD = re.compile(r"\w+", re.UNICODE)
STOPWORDS = frozenset(
    """a an and are as at be been being but by can could did do does doing for from had has have having he her
    hers him his how i if in into is it its just me my of on or our she so than that the their them then there
    these they this those to was we were what when where which who whom why will with would you your yours
    about after again all also am any because before both each few more most other over same some such too
    very s t don ever""".split()
)


def terms(text: str) -> list[str]:
    """Distinct lower-case content words, stopwords dropped unless nothing else is left."""
    words = [w.lower() for w in _WORD.findall(text)]
    content = [w for w in words if w not in STOPWORDS and len(w) > 1] or words
    return list(dict.fromkeys(content))[:MAX_TERMS]


def fts_query(text: str) -> str | None:
    found = terms(text)
    if not found:
        return None
    return " OR ".join('"' + w.replace('"', '""') + '"' for w in found)


def _filters(q: SearchQuery, alias: str, fact: bool) -> tuple[str, list[Any]]:
    sql: list[str] = []
    params: list[Any] = []
    if not fact and q.kinds is not None:
        sql.append(f"{alias}.kind IN ({','.join('?' * len(q.kinds))})")
        params.extend(q.kinds)
    for column, value in (("session_id", q.session_id), ("run_id", q.run_id)):
        if value is not None:
            sql.append(f"{alias}.{column} = ?")
            params.append(value)
    if q.thread_id is not None:
        sql.append("0" if fact else f"{alias}.thread_id = ?")
        params.extend([] if fact else [q.thread_id])
    if q.since is not None:
        sql.append(f"{alias}.occurred_at >= ?")
        params.append(q.since)
    if q.until is not None:
        sql.append(f"{alias}.occurred_at <= ?")
        params.append(q.until)
    return "".join(f" AND {s}" for s in sql), params


def keyword(store: SpaceStore, q: SearchQuery, n: int) -> list[tuple[int, int, float]]:
    """BM25 over episodes and facts (memory/_bm25.py), on the space's read connection: never under its lock."""
    words = terms(q.query)
    if not words:
        return []
    out: list[tuple[int, int, float]] = []
    wants_facts = q.kinds is None or "fact" in q.kinds
    wants_episodes = q.kinds is None or any(k != "fact" for k in q.kinds)
    tables = [(EPISODE, "episodes", False)] * wants_episodes + [(FACT, "facts", True)] * wants_facts
    reader = store.keywords()
    with reader.lock:
        tokens = reader.tokens(words)
        single = [t[0] for t in tokens if len(t) == 1]
        reader.conn.execute("BEGIN")  # one snapshot: the lengths and the postings agree
        try:
            for item_type, table, is_fact in tables:
                where, params = _filters(q, "t", is_fact)
                ranked = None
                if len(single) == len(tokens):
                    ranked = _scored(reader, table, single, n, where, params)
                if ranked is None:  # a phrase among the words, or a filter the best matches miss
                    ranked = _fts5_ranked(reader.conn, table, words, n, where, params)
                out.extend((item_type, rowid, score) for rowid, score in ranked)
        finally:
            reader.conn.execute("COMMIT")
    out.sort(key=lambda r: (-r[2], r[1]))
    return out[:n]


FILTER_ROUNDS = 8
"""Slices of the best matches checked against a filter before FTS5 is asked to join it instead."""


def _scored(
    reader: KeywordReader, table: str, tokens: list[str], n: int, where: str, params: list[Any]
) -> list[tuple[int, float]] | None:
    rowids, scores = reader.scores(table, tokens)
    if not where:
        best = np.argpartition(-scores, n)[:n] if len(scores) > n else np.arange(len(scores))
        return [(int(rowids[i]), float(scores[i])) for i in best]
    order = np.lexsort((rowids, -scores))
    step = max(4 * n, 500)
    kept: list[tuple[int, float]] = []
    for start in range(0, min(len(order), step * FILTER_ROUNDS), step):
        chunk = order[start : start + step]
        ids = rowids[chunk].tolist()
        passing: set[int] = set()
        for part in range(0, len(ids), 900):
            some = ids[part : part + 900]
            marks = ",".join("?" * len(some))
            sql = f"SELECT t.id FROM {table} t WHERE t.id IN ({marks}){where}"
            passing.update(r[0] for r in reader.conn.execute(sql, [*some, *params]))
        kept.extend((int(rowids[i]), float(scores[i])) for i in chunk if int(rowids[i]) in passing)
        if len(kept) >= n:
            return kept[:n]
    return kept if len(order) <= step * FILTER_ROUNDS else None


def _fts5_ranked(
    conn: sqlite3.Connection, table: str, words: list[str], n: int, where: str, params: list[Any]
) -> list[tuple[int, float]]:
    """FTS5's own MATCH and bm25(): phrases, and filters that only a join finds enough rows for."""
    match = fts_query(" ".join(words))
    # Without filters the join is skipped: it costs a row lookup per match in a large space.
    join = f" JOIN {table} t ON t.id = f.rowid" if where else ""
    rows = conn.execute(
        f"SELECT f.rowid, bm25({table}_fts) AS s FROM {table}_fts f{join}"
        f" WHERE {table}_fts MATCH ?{where} ORDER BY s LIMIT ?",
        [match, *params, n],
    ).fetchall()
    return [(rowid, -score) for rowid, score in rows]


def dense(store: SpaceStore, q: SearchQuery, qvec: np.ndarray, n: int) -> list[tuple[int, int, float]]:
    kinds = q.kinds
    mask = store.index.mask(
        kinds=kinds, session=q.session_id, thread=q.thread_id, run=q.run_id, since=q.since, until=q.until
    )
    return store.index.top(qvec, n, mask)


def fuse(
    *rankings: list[tuple[int, int, float]], weights: tuple[float, ...] | None = None
) -> dict[tuple[int, int], float]:
    scores: dict[tuple[int, int], float] = {}
    for r, ranking in enumerate(rankings):
        w = 1.0 if weights is None else weights[r]
        for rank, (item_type, rowid, _) in enumerate(ranking):
            key = (item_type, rowid)
            scores[key] = scores.get(key, 0.0) + w / (RRF_K + rank + 1)
    return scores


_META = "id, kind, speaker, run_id, session_id, thread_id, occurred_at, prev_id, instr(text, '?') > 0 AS asks"
_FULL = f"{_META}, text, dedup_key, tool_call_id"


def _episode_rows(store: SpaceStore, rowids: list[int], full: bool = False) -> dict[int, dict[str, Any]]:
    """Scoring needs only the light columns; text is read for the hits that are returned."""
    if not rowids:
        return {}
    marks = ",".join("?" * len(rowids))
    rows = store.rows(f"SELECT {_FULL if full else _META} FROM episodes WHERE id IN ({marks})", rowids)
    return {r["id"]: r for r in rows}


def _fact_rows(store: SpaceStore, rowids: list[int]) -> dict[int, dict[str, Any]]:
    if not rowids:
        return {}
    marks = ",".join("?" * len(rowids))
    rows = store.rows(
        f"SELECT id, text, run_id, session_id, occurred_at, episode_ids FROM facts WHERE id IN ({marks})",
        rowids,
    )
    return {r["id"]: r for r in rows}


def neighbours(store: SpaceStore, rowid: int, session: str | None, width: int) -> list[int]:
    """Turns just before and after an episode in the same session (conversation context)."""
    if session is None or width <= 0:
        return []
    with store.lock:
        before = store.conn.execute(
            "SELECT id FROM episodes WHERE session_id=? AND id<? ORDER BY id DESC LIMIT ?",
            (session, rowid, width),
        ).fetchall()
        after = store.conn.execute(
            "SELECT id FROM episodes WHERE session_id=? AND id>? ORDER BY id LIMIT ?", (session, rowid, width)
        ).fetchall()
    return [r[0] for r in before] + [r[0] for r in after]


def candidates(q: SearchQuery) -> int:
    return max(50, q.top_k * 6)


def search(
    store: SpaceStore,
    q: SearchQuery,
    qvec: np.ndarray | None,
    tuning: Tuning = DEFAULT_TUNING,
    keyword_ranking: list[tuple[int, int, float]] | None = None,
    dense_ranking: list[tuple[int, int, float]] | None = None,
) -> list[SearchHit]:
    """Either ranking may be computed beforehand (MemoryService runs the two at once)."""
    n = candidates(q)
    rankings: list[list[tuple[int, int, float]]] = []
    sources: dict[tuple[int, int], list[str]] = {}
    if q.mode in ("hybrid", "keyword"):
        rankings.append(keyword(store, q, n) if keyword_ranking is None else keyword_ranking)
        for t, r, _ in rankings[-1]:
            sources.setdefault((t, r), []).append("keyword")
    if q.mode in ("hybrid", "dense") and qvec is not None:
        rankings.append(dense(store, q, qvec, n) if dense_ranking is None else dense_ranking)
        for t, r, _ in rankings[-1]:
            sources.setdefault((t, r), []).append("dense")
    weights = {"keyword": tuning.keyword_weight, "dense": tuning.dense_weight}
    names = [n for n in ("keyword", "dense") if q.mode in ("hybrid", n)][: len(rankings)]
    scores = fuse(*rankings, weights=tuple(weights[n] for n in names))
    episodes = _episode_rows(store, [r for (t, r) in scores if t == EPISODE])
    if q.mode == "hybrid":
        scores = _substrate(store, q, scores, episodes, tuning)
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    facts = _fact_rows(store, [r for (t, r), _ in ranked if t == FACT])
    if q.recency_weight > 0 and ranked:
        now = time.time()

        def recency(key: tuple[int, int]) -> float:
            row = (episodes if key[0] == EPISODE else facts).get(key[1])
            age_days = max(0.0, (now - (row or {}).get("occurred_at", now)) / 86400)
            return math.exp(-age_days / 30)

        top = ranked[0][1]
        ranked = sorted(
            ((k, s + q.recency_weight * top * recency(k)) for k, s in ranked), key=lambda kv: -kv[1]
        )
    if q.expand_neighbors:
        ranked = _expand(store, ranked, episodes, q)
    hits: list[SearchHit] = []
    episodes = _episode_rows(store, [r for (t, r), _ in ranked[: q.top_k] if t == EPISODE], full=True)
    for (item_type, rowid), score in ranked[: q.top_k]:
        if item_type == EPISODE and rowid in episodes:
            row = episodes[rowid]
            hits.append(
                SearchHit(
                    id=f"ep:{rowid}",
                    type="episode",
                    kind=row["kind"],
                    text=row["text"],
                    score=round(score, 6),
                    key=caller_key(row["dedup_key"]),
                    speaker=row["speaker"],
                    run_id=row["run_id"],
                    session_id=row["session_id"],
                    thread_id=row["thread_id"],
                    tool_call_id=row["tool_call_id"],
                    occurred_at=iso(row["occurred_at"]),
                    episode_ids=[f"ep:{rowid}"],
                    matched=sources.get((item_type, rowid), ["neighbour"]),
                )
            )
        elif item_type == FACT and rowid in facts:
            row = facts[rowid]
            hits.append(
                SearchHit(
                    id=f"fact:{rowid}",
                    type="fact",
                    kind="fact",
                    text=row["text"],
                    score=round(score, 6),
                    run_id=row["run_id"],
                    session_id=row["session_id"],
                    occurred_at=iso(row["occurred_at"]),
                    episode_ids=json.loads(row["episode_ids"]),
                    matched=sources.get((item_type, rowid), []),
                )
            )
    return hits


def _expand(
    store: SpaceStore,
    ranked: list[tuple[tuple[int, int], float]],
    episodes: dict[int, dict[str, Any]],
    q: SearchQuery,
) -> list[tuple[tuple[int, int], float]]:
    """Adds the neighbouring turns of the top hits just below them (context the hit alone lacks)."""
    scores = dict(ranked)
    for (item_type, rowid), score in ranked[: q.top_k]:
        if item_type != EPISODE or rowid not in episodes:
            continue
        for other in neighbours(store, rowid, episodes[rowid]["session_id"], q.expand_neighbors):
            key = (EPISODE, other)
            scores[key] = max(scores.get(key, 0.0), score * 0.5)
    missing = [r for (t, r) in scores if t == EPISODE and r not in episodes]
    episodes.update(_episode_rows(store, missing))
    return sorted(scores.items(), key=lambda kv: -kv[1])


def _passes(row: dict[str, Any], q: SearchQuery) -> bool:
    at = row["occurred_at"]
    return not (
        (q.kinds is not None and row["kind"] not in q.kinds)
        or (q.session_id is not None and row["session_id"] != q.session_id)
        or (q.thread_id is not None and row["thread_id"] != q.thread_id)
        or (q.run_id is not None and row["run_id"] != q.run_id)
        or (q.since is not None and (at is None or at < q.since))
        or (q.until is not None and (at is None or at > q.until))
    )


def _substrate(
    store: SpaceStore,
    q: SearchQuery,
    scores: dict[tuple[int, int], float],
    episodes: dict[int, dict[str, Any]],
    tuning: Tuning,
) -> dict[tuple[int, int], float]:
    """What a flat index cannot know: the turns around a match, and who is speaking."""
    out = dict(scores)
    if tuning.next_weight or tuning.prev_weight:
        candidates = [r for (t, r) in scores if t == EPISODE and r in episodes]
        following: dict[int, int] = {}
        if candidates:
            marks = ",".join("?" * len(candidates))
            for row in store.rows(f"SELECT id, prev_id FROM episodes WHERE prev_id IN ({marks})", candidates):
                following[row["prev_id"]] = row["id"]
        extra: dict[int, float] = {}
        for rowid in candidates:
            score = scores[(EPISODE, rowid)]
            if rowid in following:
                share = tuning.next_weight + (tuning.question_weight if episodes[rowid]["asks"] else 0.0)
                extra[following[rowid]] = extra.get(following[rowid], 0.0) + share * score
            prev = episodes[rowid]["prev_id"]
            if prev is not None:
                extra[prev] = extra.get(prev, 0.0) + tuning.prev_weight * score
        episodes.update(_episode_rows(store, [r for r in extra if r not in episodes]))
        for rowid, bonus in extra.items():
            if rowid in episodes and _passes(episodes[rowid], q):
                out[(EPISODE, rowid)] = out.get((EPISODE, rowid), 0.0) + bonus
    if tuning.session_weight:
        best: dict[str, float] = {}
        for (t, r), score in out.items():
            meta = episodes.get(r) if t == EPISODE else None
            if meta is not None and meta["session_id"] is not None:
                best[meta["session_id"]] = max(best.get(meta["session_id"], 0.0), score)
        for key, score in out.items():
            meta = episodes.get(key[1]) if key[0] == EPISODE else None
            if meta is not None and meta["session_id"] in best:
                out[key] = score + tuning.session_weight * best[meta["session_id"]]
    if tuning.speaker_boost:
        named = _named_speakers(store, q.query)
        if named:
            for key, score in out.items():
                meta = episodes.get(key[1]) if key[0] == EPISODE else None
                if meta is not None and meta["speaker"] in named:
                    out[key] = score * (1 + tuning.speaker_boost)
    return out


def _named_speakers(store: SpaceStore, query: str) -> set[str]:
    words = {w.lower() for w in _WORD.findall(query)}
    return {
        speaker
        for speaker in store.speakers()
        if speaker and (speaker.lower() in words or speaker.split()[0].lower() in words)
    }
