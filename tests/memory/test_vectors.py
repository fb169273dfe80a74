"""Vectors after the fact: never waiting for the model, the ANN file, and one embedder per space."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import numpy as np

from memory import HashEmbedder, MemoryService


class SlowEmbedder(HashEmbedder):
    """Blocks until released, like a model that is still loading."""

    name = "slow-hash"

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.texts = 0

    async def embed(self, texts: list[str]) -> np.ndarray:
        await asyncio.to_thread(self.release.wait, 10)
        self.texts += len(texts)
        return self.embed_sync(texts)


class NotLoaded(HashEmbedder):
    """A model that is not in memory: with load_model=False nothing may load it."""

    name = "hash-words-bigrams"
    loaded = False

    async def embed(self, texts: list[str]) -> np.ndarray:
        raise AssertionError("the model must not be loaded")


async def test_writes_are_keyword_searchable_before_the_model_answers(tmp_path: Path) -> None:
    embedder = SlowEmbedder()
    service = MemoryService(tmp_path, embedder)
    result = await asyncio.wait_for(
        service.write("sp", {"episodes": [{"text": "the kiln reached 1200 C"}]}), 2
    )
    assert result.episode_ids == ["ep:1"]
    hits = await service.search("sp", {"query": "kiln", "mode": "keyword"})
    assert [h.id for h in hits.hits] == ["ep:1"]
    embedder.release.set()
    await service.settle()
    store = await service.store("sp")
    assert store.pending() == 0 and len(store.index.ann) == 1
    await service.aclose()


async def test_unembedded_rows_are_embedded_by_the_next_process_once(tmp_path: Path) -> None:
    first = MemoryService(tmp_path, NotLoaded(), load_model=False, wait_for_model=False)
    texts = [f"note {i} about glaze number {i}" for i in range(300)]
    await first.write("sp", {"episodes": [{"text": t} for t in texts]})
    # the search of a person never waits for the model: keyword hits at once, and the result says so
    hits = await first.search("sp", {"query": "glaze number 7"})
    assert hits.hits and all(h.matched == ["keyword"] for h in hits.hits)
    assert hits.mode == "keyword" and hits.note and "loading" in hits.note
    dense = await first.search("sp", {"query": "glaze number 7", "mode": "dense"})
    assert dense.mode == "keyword" and [h.id for h in dense.hits] == [h.id for h in hits.hits]
    assert not first.dense_ready
    await first.aclose()

    counting = SlowEmbedder()
    counting.name = "hash-words-bigrams"
    counting.release.set()
    second = MemoryService(tmp_path, counting)
    await second.store("sp")  # opening the space queues what the first process left
    await second.settle()
    store = await second.store("sp")
    assert store.pending() == 0
    assert counting.texts == 300  # each row embedded exactly once
    assert len(store.index.ann) == 300
    hits = await second.search("sp", {"query": "note 7 about glaze number 7", "mode": "dense"})
    assert hits.hits[0].text == "note 7 about glaze number 7"
    await second.aclose()


async def test_the_ann_file_is_rebuilt_when_missing_or_corrupt(tmp_path: Path) -> None:
    service = MemoryService(tmp_path, HashEmbedder())
    await service.write("sp", {"episodes": [{"text": f"episode {i} mentions kiln {i}"} for i in range(50)]})
    await service.settle()
    await service.aclose()
    path = tmp_path / "memory" / "sp.usearch"
    assert path.exists()
    for damage in (b"not an index", None):
        if damage is None:
            path.unlink()
        else:
            path.write_bytes(damage)
        again = MemoryService(tmp_path, HashEmbedder())
        hits = await again.search("sp", {"query": "episode 9 mentions kiln 9", "mode": "dense"})
        assert hits.hits[0].text == "episode 9 mentions kiln 9"
        assert len((await again.store("sp")).index.ann) == 50
        await again.aclose()


async def test_a_saved_index_that_lags_is_completed_from_sqlite(tmp_path: Path) -> None:
    service = MemoryService(tmp_path, HashEmbedder())
    await service.write("sp", {"episodes": [{"text": "first row about clay"}]})
    await service.settle()
    await service.aclose()
    saved = (tmp_path / "memory" / "sp.usearch").read_bytes()
    service = MemoryService(tmp_path, HashEmbedder())
    await service.write("sp", {"episodes": [{"text": "second row about porcelain"}]})
    await service.settle()
    await service.aclose()
    (tmp_path / "memory" / "sp.usearch").write_bytes(saved)  # as if the process died before saving
    again = MemoryService(tmp_path, HashEmbedder())
    hits = await again.search("sp", {"query": "second row about porcelain", "mode": "dense"})
    assert hits.hits[0].text == "second row about porcelain"
    await again.aclose()


async def test_another_embedder_reembeds_instead_of_mixing(tmp_path: Path) -> None:
    service = MemoryService(tmp_path, HashEmbedder())
    await service.write("sp", {"episodes": [{"text": "the red glaze crazed"}]})
    await service.settle()
    await service.aclose()

    class Other(HashEmbedder):
        name = "other-model"
        version = "2"

    other = MemoryService(tmp_path, Other(dim=64))
    store = await other.store("sp")
    assert store.reembedding
    await other.settle()
    meta = dict((r["key"], r["value"]) for r in store.rows("SELECT key, value FROM meta"))
    assert (meta["embedder_name"], meta["embedder_dim"]) == ("other-model", "64")
    assert meta["embedder_version"].startswith("2/")
    blobs = store.rows("SELECT length(embedding) AS n FROM episodes")
    assert [b["n"] for b in blobs] == [64 * 4]
    hits = await other.search("sp", {"query": "the red glaze crazed", "mode": "dense"})
    assert hits.hits[0].text == "the red glaze crazed"
    await other.aclose()


async def test_filtered_dense_search_is_exact_for_narrow_filters(tmp_path: Path) -> None:
    service = MemoryService(tmp_path, HashEmbedder())
    episodes = [{"text": f"row {i} glaze", "sessionId": f"s{i % 10}"} for i in range(500)]
    await service.write("sp", {"episodes": episodes})
    await service.settle()
    hits = await service.search(
        "sp", {"query": "row 13 glaze", "mode": "dense", "sessionId": "s3", "topK": 5}
    )
    assert hits.hits[0].text == "row 13 glaze"
    assert all(h.session_id == "s3" for h in hits.hits)
    await service.aclose()


class GatedEmbedder(HashEmbedder):
    """A warm model whose batches wait for the test: the worker is mid-batch when the search comes."""

    name = "gated-hash"

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.batches = 0

    QUERIES = frozenset({"kiln", "kiln temperature"})

    async def embed(self, texts: list[str]) -> np.ndarray:
        if not self.QUERIES.issuperset(texts):  # a search's own query passes at once
            self.batches += 1
            await self.gate.wait()
        return self.embed_sync(texts)


async def test_a_dense_search_right_after_a_write_finds_it(tmp_path: Path) -> None:
    embedder = GatedEmbedder()
    service = MemoryService(tmp_path, embedder)
    await service.write("sp", {"episodes": [{"text": "the kiln reached 1200 C"}, {"text": "glaze note"}]})
    search = asyncio.ensure_future(service.search("sp", {"query": "kiln temperature", "mode": "dense"}))
    await asyncio.sleep(0.05)
    assert not search.done()  # it waits for the worker that holds the space's rows
    embedder.gate.set()
    hits = await asyncio.wait_for(search, 2)
    assert "ep:1" in [h.id for h in hits.hits]
    await service.aclose()


async def test_a_dense_search_waits_at_most_the_bound_for_a_stuck_worker(tmp_path: Path) -> None:
    embedder = GatedEmbedder()
    service = MemoryService(tmp_path, embedder)
    await service.write("sp", {"episodes": [{"text": "the kiln reached 1200 C"}, {"text": "glaze note"}]})
    await service.write("other", {"episodes": [{"text": "a kiln in another space"}]})
    began = asyncio.get_running_loop().time()
    hits = await asyncio.wait_for(service.search("sp", {"query": "kiln", "mode": "dense"}), 5)
    waited = asyncio.get_running_loop().time() - began
    assert hits.hits == [] and 0.9 <= waited < 3  # no vectors yet: nothing found, after the bound
    embedder.gate.set()
    await service.settle()
    fresh = await service.search("other", {"query": "kiln", "mode": "dense"})
    assert [h.id for h in fresh.hits] == ["ep:1"]
    await service.aclose()
