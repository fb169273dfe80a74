from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from memory import MemoryService, MemoryToolError, build_memory_tools

from .conftest import Ctx


@pytest.fixture
async def tools(service: MemoryService) -> dict[str, Any]:
    await service.write(
        "sp",
        {
            "episodes": [
                {
                    "text": "The staging cluster runs Kubernetes 1.29",
                    "kind": "tool_result",
                    "runId": "r1",
                    "sessionId": "s1",
                    "toolCallId": "c1",
                    "occurredAt": "2024-05-01T09:00:00Z",
                },
                {
                    "text": "Please upgrade staging next week",
                    "kind": "user_message",
                    "runId": "r1",
                    "sessionId": "s1",
                    "occurredAt": "2024-05-01T09:05:00Z",
                },
            ],
            "facts": [
                {
                    "text": "staging runs Kubernetes",
                    "subject": "staging",
                    "predicate": "runs",
                    "object": "Kubernetes",
                    "episodeIds": ["ep:1"],
                    "validFrom": "2024-05-01",
                }
            ],
        },
    )
    return {t.name: t for t in build_memory_tools(service)}


def test_tool_objects_match_the_local_tool_protocol(service: MemoryService) -> None:
    tools = build_memory_tools(service)
    assert [t.name for t in tools] == [
        "semantic_search_memory",
        "graph_search_memory",
        "provenance_lookup",
        "timeline_search",
    ]
    for tool in tools:
        assert tool.description and tool.side_effects is False
        jsonschema.Draft202012Validator.check_schema(tool.parameters)


async def test_semantic_search_hits_lead_to_provenance(tools: dict[str, Any]) -> None:
    result = await tools["semantic_search_memory"].execute(
        {"query": "what kubernetes version is on staging"}, Ctx()
    )
    json.dumps(result)
    top = result["hits"][0]
    assert top["id"] == "ep:1" and top["tool_call_id"] == "c1" and top["run_id"] == "r1"
    prov = await tools["provenance_lookup"].execute({"id": top["id"]}, Ctx())
    assert prov["episodes"][0]["tool_call_id"] == "c1" and prov["episodes"][0]["session_id"] == "s1"
    fact_hits = await tools["semantic_search_memory"].execute(
        {"query": "kubernetes", "kinds": ["fact"]}, Ctx()
    )
    fact = fact_hits["hits"][0]
    chain = await tools["provenance_lookup"].execute({"id": fact["id"]}, Ctx())
    assert [e["id"] for e in chain["episodes"]] == fact["episode_ids"] == ["ep:1"]


async def test_tools_use_the_space_from_the_context(tools: dict[str, Any]) -> None:
    result = await tools["semantic_search_memory"].execute({"query": "kubernetes"}, Ctx(space_id="elsewhere"))
    assert result["hits"] == []


async def test_graph_search_happy_path(tools: dict[str, Any]) -> None:
    result = await tools["graph_search_memory"].execute({"entity": "staging"}, Ctx())
    assert {n["name"] for n in result["nodes"]} == {"staging", "Kubernetes"}
    assert result["edges"][0]["episode_ids"] == ["ep:1"]
    paths = await tools["graph_search_memory"].execute({"entity": "staging", "target": "kubernetes"}, Ctx())
    assert len(paths["paths"]) == 1 and len(paths["paths"][0]) == 2
    by_query = await tools["graph_search_memory"].execute({"query": "what does staging run?"}, Ctx())
    assert by_query["edges"]


async def test_timeline_happy_path(tools: dict[str, Any]) -> None:
    result = await tools["timeline_search"].execute({"from": "2024-05-01", "to": "2024-05-02"}, Ctx())
    kinds = [i["type"] for i in result["items"]]
    assert "episode" in kinds and "edge" in kinds and "fact" in kinds
    times = [i["at"] for i in result["items"]]
    assert times == sorted(times)
    desc = await tools["timeline_search"].execute({"query": "upgrade", "order": "desc"}, Ctx())
    assert [i["id"] for i in desc["items"]] == ["ep:2"]
    none = await tools["timeline_search"].execute({"from": "last 7 days"}, Ctx())
    assert none["items"] == []


@pytest.mark.parametrize(
    ("name", "arguments", "kind"),
    [
        ("semantic_search_memory", {}, "invalid_call"),
        ("semantic_search_memory", {"query": "x", "top_k": 0}, "invalid_call"),
        ("semantic_search_memory", {"query": "x", "mode": "psychic"}, "invalid_call"),
        ("semantic_search_memory", {"query": "x", "since": "the day after never"}, "invalid_call"),
        ("semantic_search_memory", {"query": "x", "unknown": 1}, "invalid_call"),
        ("graph_search_memory", {}, "invalid_call"),
        ("graph_search_memory", {"entity": "nobody-we-know"}, "domain_rejection"),
        ("graph_search_memory", {"node_id": "ep:1"}, "invalid_call"),
        ("graph_search_memory", {"entity": "staging", "target": "atlantis"}, "domain_rejection"),
        ("provenance_lookup", {"id": "ep:999"}, "domain_rejection"),
        ("provenance_lookup", {"id": "robert'); DROP TABLE facts;--"}, "invalid_call"),
        ("provenance_lookup", {"id": "x"}, "invalid_call"),
        ("timeline_search", {"from": "not a date"}, "invalid_call"),
        ("timeline_search", {"limit": 10_000}, "invalid_call"),
    ],
)
async def test_error_paths_are_typed(
    tools: dict[str, Any], name: str, arguments: dict[str, Any], kind: str
) -> None:
    with pytest.raises(MemoryToolError) as caught:
        await tools[name].execute(arguments, Ctx())
    assert caught.value.kind == kind
    assert caught.value.hint == ("correct_call" if kind == "invalid_call" else "replan")
    assert caught.value.message


async def test_internal_errors_do_not_leak(service: MemoryService, tools: dict[str, Any]) -> None:
    await service.aclose()  # the store is gone: a genuine internal failure
    with pytest.raises(MemoryToolError) as caught:
        await tools["semantic_search_memory"].execute({"query": "x"}, Ctx())
    assert caught.value.kind == "internal" and "closed" not in caught.value.message
