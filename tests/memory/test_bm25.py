"""Keyword search scores BM25 itself (memory/_bm25.py): the scores must be FTS5's bm25(), row for row."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from memory import EpisodeIn, HashEmbedder, MemoryService, SearchQuery
from memory._embedder import EmbedderId
from memory._search import candidates, keyword
from memory._store import SpaceStore

_WORDS = (
    "running runs runner deploy deployed billing postgres certificate pottery 会議 議事録 repo_search".split()
)


def _store(tmp_path: Path, count: int = 400) -> SpaceStore:
    rng = random.Random(5)
    store = SpaceStore(tmp_path / "s.db", EmbedderId("hash", 8, "1"), "s")
    store.insert_episodes(
        [
            EpisodeIn(
                text=" ".join(rng.choices(_WORDS + [f"w{i}" for i in range(40)], k=rng.randint(1, 200))),
                kind=("user_message", "tool_result")[i % 2],
                session_id=f"s{i % 7}",
            )
            for i in range(count)
        ]
    )
    return store


def _fts5(
    store: SpaceStore, words: list[str], where: str = "", params: tuple[object, ...] = ()
) -> dict[int, float]:
    match = " OR ".join(f'"{w}"' for w in words)
    join = " JOIN episodes t ON t.id = f.rowid" if where else ""
    rows = store.conn.execute(
        f"SELECT f.rowid, -bm25(episodes_fts) FROM episodes_fts f{join} WHERE episodes_fts MATCH ?{where}",
        (match, *params),
    ).fetchall()
    return dict(rows)


@pytest.mark.parametrize(
    "query",
    ["running deploy", "runs runner running", "会議 billing w3", "certificate", "w1 w2 w3 w4 w5 w6 w7 w8"],
)
@pytest.mark.parametrize("kinds", [None, ["user_message", "tool_result"]])
def test_scores_are_fts5_bm25_row_for_row(tmp_path: Path, query: str, kinds: list[str] | None) -> None:
    store = _store(tmp_path)
    try:
        got = keyword(store, SearchQuery(query=query, top_k=50, kinds=kinds), 10_000)
        expected = _fts5(store, query.split())
        assert len(got) == len(expected) > 0
        for _, rowid, score in got:
            assert score == pytest.approx(expected[rowid], rel=1e-9, abs=1e-12)
        assert [s for _, _, s in got] == sorted((s for _, _, s in got), reverse=True)
    finally:
        store.close()


def test_a_filter_keeps_only_passing_rows_best_first(tmp_path: Path) -> None:
    store = _store(tmp_path)
    try:
        q = SearchQuery(query="deploy pottery", top_k=10, session_id="s3")
        got = keyword(store, q, candidates(q))
        expected = _fts5(store, ["deploy", "pottery"], " AND t.session_id = ?", ("s3",))
        best = sorted(expected.items(), key=lambda kv: (-kv[1], kv[0]))[: candidates(q)]
        assert [(r, round(s, 9)) for _, r, s in got] == [(r, round(s, 9)) for r, s in best]
    finally:
        store.close()


def test_a_word_fts5_splits_into_a_phrase_is_still_matched(tmp_path: Path) -> None:
    store = _store(tmp_path)
    try:
        got = keyword(store, SearchQuery(query="repo_search", top_k=10), 10_000)
        expected = _fts5(store, ["repo_search"])
        assert {r for _, r, _ in got} == set(expected) and expected
    finally:
        store.close()


async def test_keyword_search_sees_a_write_at_once(tmp_path: Path) -> None:
    service = MemoryService(tmp_path, HashEmbedder())
    try:
        await service.write("sp", {"episodes": [{"text": "the kiln reached 1200 degrees"}]})
        first = await service.search("sp", {"query": "kiln", "mode": "keyword"})
        await service.write("sp", {"episodes": [{"text": "a second kiln firing, glaze test"}]})
        second = await service.search("sp", {"query": "kiln glaze", "mode": "keyword"})
        assert len(first.hits) == 1
        assert len(second.hits) == 2 and "glaze" in second.hits[0].text
    finally:
        await service.aclose()


def test_keyword_search_never_waits_for_the_space_lock(tmp_path: Path) -> None:
    """The graph walk and writers hold the space's lock; keyword search reads on its own connection, so a
    hybrid search overlaps its two sides and a long write does not stall it."""
    import threading

    store = _store(tmp_path)
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with store.lock:
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(5)
        done: list[int] = []
        searcher = threading.Thread(
            target=lambda: done.append(len(keyword(store, SearchQuery(query="deploy"), 50)))
        )
        searcher.start()
        searcher.join(5)
        assert done and done[0] > 0  # finished while another thread held the lock
    finally:
        release.set()
        holder.join()
        store.close()
