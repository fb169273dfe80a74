"""Many tenants: injective space files, a bounded pool of open spaces, reads that create nothing."""

from __future__ import annotations

import contextlib
import gc
import os
import weakref
from pathlib import Path

import pytest

from memory import HashEmbedder, MemoryService, space_filename
from memory._names import legacy_filename
from memory._pool import DESCRIPTORS_PER_SPACE


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.parametrize(
    "a, b",
    [
        ("org/alice", "org_alice-9341e919e9"),  # the pair from issue 16: one tenant read the other's fact
        ("org/alice", legacy_filename("org/alice")[:-3]),
        ("a~2Fb", "a/b"),
        ("", "default"),
        ("Ünïcode", "_nicode"),
        ("x" * 300, "x" * 301),
    ],
)
def test_space_file_names_are_injective(a: str, b: str) -> None:
    assert space_filename(a) != space_filename(b)
    for name in (space_filename(a), space_filename(b)):
        assert "/" not in name and not name.startswith(".") and len(name) < 255


async def test_two_colliding_ids_of_old_never_share_a_fact(tmp_path: Path) -> None:
    service = MemoryService(tmp_path, HashEmbedder())
    await service.write("org/alice", {"episodes": [{"text": "alice's secret is tangerine"}]})
    literal = "org_alice-9341e919e9"
    result = await service.search(literal, {"query": "secret tangerine", "mode": "keyword"})
    assert result.hits == []
    await service.write(literal, {"episodes": [{"text": "mallory was here"}]})
    own = await service.search("org/alice", {"query": "mallory", "mode": "keyword"})
    assert own.hits == []
    await service.aclose()


async def test_reads_of_an_unknown_space_create_nothing(tmp_path: Path) -> None:
    service = MemoryService(tmp_path, HashEmbedder())
    assert (await service.search("ghost", {"query": "anything"})).hits == []
    assert (await service.timeline("ghost", {})).items == []
    with pytest.raises(LookupError):
        await service.provenance("ghost", "ep:1")
    with pytest.raises(LookupError):
        await service.graph("ghost", {"entity": "Alice"})
    assert not (tmp_path / "memory").exists() or list((tmp_path / "memory").iterdir()) == []
    await service.aclose()


async def test_descriptors_stay_bounded_with_many_spaces(tmp_path: Path) -> None:
    service = MemoryService(tmp_path, HashEmbedder(), max_open_spaces=8)
    before = _fds()
    for i in range(60):
        await service.write(f"tenant-{i}", {"episodes": [{"text": f"tenant {i} likes item{i}"}]})
        found = await service.search(f"tenant-{i}", {"query": f"item{i}", "mode": "keyword"})
        assert len(found.hits) == 1  # a keyword search opens the space's read connection too
        assert service.pool.open_count <= 8
    await service.settle()
    assert _fds() - before <= 8 * DESCRIPTORS_PER_SPACE + 4
    # an evicted space reopens with its data and its vectors
    hits = await service.search("tenant-3", {"query": "tenant 3 likes item3", "mode": "dense"})
    assert hits.hits and hits.hits[0].text == "tenant 3 likes item3"
    await service.aclose()
    assert _fds() <= before


async def test_a_file_of_another_space_is_refused(tmp_path: Path) -> None:
    service = MemoryService(tmp_path, HashEmbedder())
    await service.write("alice", {"episodes": [{"text": "hello"}]})
    await service.aclose()
    root = tmp_path / "memory"
    (root / space_filename("alice")).rename(root / space_filename("bob"))
    again = MemoryService(tmp_path, HashEmbedder())
    with pytest.raises(ValueError, match="belongs to space 'alice'"):
        await again.search("bob", {"query": "hello", "mode": "keyword"})
    await again.aclose()


async def test_closed_spaces_release_their_in_memory_graphs(tmp_path: Path) -> None:
    """The ANN graph of a space lives in memory by design, so the pool's bound is what bounds it across
    spaces: a space the pool closes (its graph view included) must be garbage, not kept by a cache."""
    service = MemoryService(tmp_path, HashEmbedder(), max_open_spaces=4)
    closed: list[weakref.ref[object]] = []
    for i in range(20):
        await service.write(f"tenant-{i}", {"episodes": [{"text": f"Alice met Bob in city{i}"}]})
        await service.settle(f"tenant-{i}")
        store = service.pool.cached(f"tenant-{i}")
        assert store is not None and store.index.size == 1
        closed.append(weakref.ref(store.index.ann.index))
        del store
        with contextlib.suppress(LookupError):
            await service.graph(f"tenant-{i}", {"entity": "Alice"})
    gc.collect()
    alive = sum(ref() is not None for ref in closed)
    assert service.pool.open_count <= 4 and alive <= 4, (service.pool.open_count, alive)
    assert len(service._graphs) <= 4
    await service.aclose()
