from __future__ import annotations

import asyncio
from typing import Any

from memory import MemoryIngestor, MemoryService, SearchQuery

from .conftest import FakeEvent, feed, run_events


async def test_run_events_become_episodes_with_provenance(
    service: MemoryService, ingestor: MemoryIngestor
) -> None:
    for event in run_events():
        feed(ingestor, "sp", event)
    await ingestor.drain()
    rows = await service.run_episodes("sp", "run-1")
    kinds = [r["kind"] for r in rows]
    # deltas, phases, usage and tool.scheduled are not memories; the final output equals the last message
    assert kinds == ["user_message", "assistant_message", "tool_result", "assistant_message"]
    assert all(r["session_id"] == "sess-1" and r["thread_id"] == "thread-1" for r in rows)
    tool = rows[2]
    assert tool["tool_call_id"] == "call-1" and tool["speaker"] == "deploy"
    prov = await service.provenance("sp", f"ep:{tool['id']}")
    assert prov.episodes[0].run_id == "run-1"
    assert prov.episodes[0].tool_call_id == "call-1"
    assert (
        prov.episodes[0].occurred_at is not None
        and prov.episodes[0].occurred_at.timestamp() == 1_700_000_005.0
    )


async def test_on_event_never_blocks_and_drain_waits(service: MemoryService) -> None:
    ingestor = MemoryIngestor(service)  # not started: on_event must still just enqueue
    for event in run_events("run-q"):
        assert feed(ingestor, "sp", event) is None
    assert await service.run_episodes("sp", "run-q") == []
    await ingestor.drain()
    assert len(await service.run_episodes("sp", "run-q")) == 4
    await ingestor.aclose()


async def test_replayed_events_are_not_stored_twice(service: MemoryService, ingestor: MemoryIngestor) -> None:
    for _ in range(2):
        for event in run_events("run-r"):
            feed(ingestor, "sp", event)
        await ingestor.drain()
    assert len(await service.run_episodes("sp", "run-r")) == 4


async def test_failed_tool_result_is_recorded_as_error(
    service: MemoryService, ingestor: MemoryIngestor
) -> None:
    feed(ingestor, "sp", FakeEvent("run-e", 1, "run.started", {"sessionId": "s", "input": "hi"}))
    feed(
        ingestor,
        "sp",
        FakeEvent(
            "run-e",
            2,
            "tool.result",
            {
                "toolCallId": "c9",
                "toolName": "file_read",
                "ok": False,
                "output": "",
                "error": {"kind": "timeout", "message": "took too long"},
            },
        ),
    )
    await ingestor.drain()
    rows = await service.run_episodes("sp", "run-e")
    assert rows[1]["text"] == "error: took too long"


async def test_distill_run_writes_summary_entities_and_edges(
    service: MemoryService, ingestor: MemoryIngestor
) -> None:
    for event in run_events():
        feed(ingestor, "sp", event)
    result = await ingestor.distill_run("sp", "run-1")
    assert len(result["facts"]) == 1 and result["edges"]
    prov = await service.provenance("sp", result["facts"][0])
    assert "tools used: deploy" in prov.item["text"]
    assert {e.run_id for e in prov.episodes} == {"run-1"} and len(prov.episodes) == 4
    graph = await service.graph("sp", {"entity": "run run-1"})
    names = {n.name for n in graph.nodes}
    assert {"deploy", "user", "assistant"} <= names
    urls = await service.graph("sp", {"entity": "https://staging.example.com/billing"})
    assert urls.nodes
    paths = await service.graph("sp", {"entity": "docs/deploy.md", "max_depth": 1})
    assert any(e.predicate == "mentions" for e in paths.edges)
    # distilling twice does not duplicate the summary fact
    again = await ingestor.distill_run("sp", "run-1")
    assert again["facts"] == result["facts"]


async def test_model_extraction_is_bounded_to_two_calls(service: MemoryService) -> None:
    calls: list[str] = []

    async def extract(text: str) -> list[dict[str, Any]]:
        calls.append(text)
        return [
            {
                "text": f"fact {len(calls)}",
                "subject": "billing",
                "predicate": "deployed_to",
                "object": "staging",
            },
            {"nonsense": True},
        ]

    ingestor = MemoryIngestor(service, extract=extract)
    big = "x" * 50_000
    feed(ingestor, "sp", FakeEvent("run-big", 1, "run.started", {"sessionId": "s", "input": big}))
    for i in range(2, 6):
        feed(ingestor, "sp", FakeEvent("run-big", i, "assistant.message", {"text": f"{i} " + big}))
    result = await ingestor.distill_run("sp", "run-big")
    assert len(calls) == 2
    assert len(result["facts"]) == 3  # summary + one valid fact per call; the malformed item is skipped
    hits = await service.search("sp", SearchQuery(query="fact 2", kinds=["fact"], mode="keyword"))
    assert hits.hits and hits.hits[0].type == "fact"
    await ingestor.aclose()


async def test_failing_extractor_does_not_break_distillation(service: MemoryService) -> None:
    async def extract(text: str) -> list[dict[str, Any]]:
        raise RuntimeError("model down")

    ingestor = MemoryIngestor(service, extract=extract)
    for event in run_events("run-f"):
        feed(ingestor, "sp", event)
    result = await ingestor.distill_run("sp", "run-f")
    assert len(result["facts"]) == 1
    await ingestor.aclose()


async def test_concurrent_runs_in_one_space_lose_nothing(service: MemoryService) -> None:
    ingestor = MemoryIngestor(service)
    await ingestor.start()

    async def run(n: int) -> None:
        for event in run_events(f"run-{n}", session=f"sess-{n}"):
            feed(ingestor, "shared", event)
            await asyncio.sleep(0)

    await asyncio.gather(*(run(n) for n in range(8)))
    direct = [
        service.write(
            "shared", {"episodes": [{"text": f"note {w}-{i}", "sessionId": f"w{w}"} for i in range(25)]}
        )
        for w in range(6)
    ]
    await asyncio.gather(*direct)
    await ingestor.drain()
    store = await service.store("shared")
    count = store.rows("SELECT COUNT(*) AS n FROM episodes")[0]["n"]
    assert count == 8 * 4 + 6 * 25
    await ingestor.aclose()
