from __future__ import annotations

import sqlite3

import pytest
from pydantic import ValidationError

from memory import MemoryService, SearchQuery


async def _seed(service: MemoryService) -> list[str]:
    episodes = [
        {
            "text": "Hey, how was the weekend?",
            "speaker": "Mel",
            "sessionId": "s1",
            "occurredAt": "2023-05-08",
        },
        {
            "text": "I went to a pottery class and made a bowl",
            "speaker": "Ana",
            "sessionId": "s1",
            "occurredAt": "2023-05-08",
        },
        {
            "text": "The billing service uses Postgres 15",
            "kind": "tool_result",
            "sessionId": "s2",
            "occurredAt": "2024-01-02",
        },
        {
            "text": "Remember to renew the TLS certificate",
            "kind": "user_message",
            "sessionId": "s2",
            "occurredAt": "2024-03-01T10:00:00Z",
        },
    ]
    result = await service.write("sp", {"episodes": episodes})
    await service.settle()
    return result.episode_ids


@pytest.mark.parametrize("mode", ["hybrid", "dense", "keyword"])
async def test_each_mode_finds_the_matching_episode(service: MemoryService, mode: str) -> None:
    ids = await _seed(service)
    result = await service.search(
        "sp", SearchQuery(query="which database does billing use postgres", mode=mode)
    )
    assert result.hits[0].id == ids[2]
    assert result.hits[0].episode_ids == [ids[2]]


async def test_filters_by_kind_session_and_time(service: MemoryService) -> None:
    ids = await _seed(service)
    by_kind = await service.search("sp", {"query": "certificate billing", "kinds": ["user_message"]})
    assert [h.id for h in by_kind.hits] == [ids[3]]
    by_session = await service.search(
        "sp", {"query": "pottery billing", "sessionId": "s1", "mode": "keyword"}
    )
    assert {h.id for h in by_session.hits} == {ids[1]}
    by_time = await service.search("sp", {"query": "pottery billing certificate", "since": "2024-02-01"})
    assert [h.id for h in by_time.hits] == [ids[3]]


async def test_speaker_and_next_turn_lift_the_answer(service: MemoryService) -> None:
    ids = await _seed(service)
    result = await service.search("sp", SearchQuery(query="What did Ana do at the weekend?", top_k=2))
    assert ids[1] in [h.id for h in result.hits]


async def test_neighbour_expansion_adds_context(service: MemoryService) -> None:
    ids = await _seed(service)
    q = SearchQuery(query="pottery bowl", mode="keyword", top_k=3, expand_neighbors=1)
    result = await service.search("sp", q)
    assert result.hits[0].id == ids[1]
    assert ids[0] in [h.id for h in result.hits] and "neighbour" in result.hits[-1].matched


@pytest.mark.parametrize(
    "query",
    [
        "'; DROP TABLE episodes; --",
        'billing" OR 1=1 --',
        "NEAR(billing postgres) AND content:*",
        "\x00\x01 billing",
        "))) ((( ^^^ * : -",
        "🙂" * 50,
    ],
)
async def test_injection_shaped_queries_are_just_words(service: MemoryService, query: str) -> None:
    await _seed(service)
    result = await service.search("sp", {"query": query, "mode": "hybrid"})
    assert isinstance(result.hits, list)
    store = await service.store("sp")
    assert store.rows("SELECT COUNT(*) AS n FROM episodes")[0]["n"] == 4


async def test_huge_query_is_clipped_not_fatal(service: MemoryService) -> None:
    ids = await _seed(service)
    result = await service.search("sp", {"query": "postgres billing " + "lorem ipsum " * 100_000})
    assert len(result.query) == 4000
    assert result.hits[0].id == ids[2]


async def test_empty_query_is_rejected(service: MemoryService) -> None:
    with pytest.raises(ValidationError):
        await service.search("sp", {"query": ""})


async def test_space_ids_cannot_escape_the_data_dir(service: MemoryService) -> None:
    await service.write("../../etc/passwd", {"episodes": [{"text": "x"}]})
    await service.write("a/b", {"episodes": [{"text": "y"}]})
    files = sorted(p.name for p in service.root.glob("*.db"))
    assert len(files) == 2 and all("/" not in f and not f.startswith(".") for f in files)
    other = await service.search("a/b", {"query": "x", "mode": "keyword"})
    assert other.hits == []  # spaces do not share memory


async def test_database_is_wal(service: MemoryService) -> None:
    await _seed(service)
    store = await service.store("sp")
    conn = sqlite3.connect(store.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


async def test_duplicate_statements_are_stored_once(service: MemoryService) -> None:
    first = await service.write(
        "sp", {"episodes": [{"text": "same", "sessionId": "s"}], "facts": [{"text": "A is B"}]}
    )
    again = await service.write(
        "sp", {"episodes": [{"text": "same", "sessionId": "s"}], "facts": [{"text": "a  is b"}]}
    )
    assert again.episode_ids == first.episode_ids and again.fact_ids == first.fact_ids
    assert again.duplicates == 2


async def test_vectors_survive_a_restart(service: MemoryService, tmp_path) -> None:
    ids = await _seed(service)
    await service.aclose()
    from memory import HashEmbedder

    reopened = MemoryService(tmp_path, HashEmbedder())
    result = await reopened.search("sp", {"query": "postgres billing", "mode": "dense"})
    assert result.hits[0].id == ids[2]
    await reopened.aclose()


async def test_rpc_methods_speak_camel_case(service: MemoryService) -> None:
    from memory import rpc_methods

    methods = rpc_methods(service)
    written = await methods["memory.write"](
        {"spaceId": "rpc", "episodes": [{"text": "ops note about backups"}]}
    )
    assert written["episodeIds"] == ["ep:1"]
    found = await methods["memory.search"]({"spaceId": "rpc", "query": "backups", "topK": 3})
    assert found["hits"][0]["id"] == "ep:1" and "episodeIds" in found["hits"][0]
    with pytest.raises(ValidationError):
        await methods["memory.search"]({"spaceId": "rpc", "query": "x", "topK": 0})
