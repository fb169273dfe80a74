from __future__ import annotations

from memory import MemoryService


async def test_a_changed_fact_expires_the_old_edge_and_both_stay_in_the_timeline(
    service: MemoryService,
) -> None:
    first = await service.write(
        "sp",
        {
            "facts": [
                {
                    "text": "Alice lives in Paris",
                    "subject": "Alice",
                    "predicate": "lives_in",
                    "object": "Paris",
                    "validFrom": "2020-01-01",
                }
            ]
        },
    )
    second = await service.write(
        "sp",
        {
            "facts": [
                {
                    "text": "Alice moved to Berlin",
                    "subject": "Alice",
                    "predicate": "lives_in",
                    "object": "Berlin",
                    "validFrom": "2023-06-01",
                }
            ]
        },
    )
    old, new = first.edge_ids[0], second.edge_ids[0]
    assert old != new
    current = await service.graph("sp", {"entity": "alice"})
    assert [e.id for e in current.edges] == [new]
    history = await service.graph("sp", {"entity": "alice", "include_expired": True})
    edges = {e.id: e for e in history.edges}
    assert edges[old].expired_at is not None and edges[old].valid_to is not None
    assert edges[old].valid_to.year == 2023 and edges[new].expired_at is None
    timeline = await service.timeline("sp", {"kinds": ["edge"]})
    assert [i.id for i in timeline.items] == [old, new]
    assert timeline.items[0].expired_at is not None and timeline.items[1].expired_at is None
    prov = await service.provenance("sp", old)
    assert prov.item["expired_at"] is not None  # expired, not deleted


async def test_restating_a_fact_reinforces_instead_of_duplicating(service: MemoryService) -> None:
    episodes = await service.write(
        "sp", {"episodes": [{"text": "Bob works at Acme"}, {"text": "Bob: still at Acme"}]}
    )
    a = await service.write(
        "sp",
        {
            "facts": [
                {
                    "text": "Bob works at Acme",
                    "subject": "Bob",
                    "predicate": "works_at",
                    "object": "Acme",
                    "episodeIds": [episodes.episode_ids[0]],
                }
            ]
        },
    )
    b = await service.write(
        "sp",
        {
            "facts": [
                {
                    "text": "Bob is employed by Acme",
                    "subject": "Bob",
                    "predicate": "works_at",
                    "object": "Acme",
                    "episodeIds": [episodes.episode_ids[1]],
                }
            ]
        },
    )
    assert a.edge_ids == b.edge_ids
    prov = await service.provenance("sp", a.edge_ids[0])
    assert [e.id for e in prov.episodes] == episodes.episode_ids
    assert prov.item["weight"] == 2.0


async def test_non_exclusive_relations_accumulate(service: MemoryService) -> None:
    for city in ("Rome", "Oslo"):
        await service.write(
            "sp",
            {
                "facts": [
                    {
                        "text": f"Eve visited {city}",
                        "subject": "Eve",
                        "predicate": "visited",
                        "object": city,
                        "exclusive": False,
                    }
                ]
            },
        )
    graph = await service.graph("sp", {"entity": "Eve"})
    assert sorted(n.name for n in graph.nodes) == ["Eve", "Oslo", "Rome"]
    assert all(e.expired_at is None for e in graph.edges)
