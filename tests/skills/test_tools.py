from __future__ import annotations

import json

import pytest

from agent.tools.spec import FAILURE_KINDS, ToolCallContext
from skills import (
    TOOL_NAMES,
    RunSkills,
    SelectionInput,
    SkillToolError,
    build_skill_tools,
    merge_catalog,
    select_skills,
)

ALL_TEMPLATES = ["slides-outline", "speaker-notes", "repo-app-bootstrap", "api-worker"]
CTX = ToolCallContext(run_id="r1", session_id="s1", turn_id=1, tool_call_id="t1", locale="en")


@pytest.fixture
def run(official) -> RunSkills:
    records = [
        {
            "id": "research-brief",
            "name": "Our research",
            "description": "Custom research flow",
            "category": "research",
        },
        {
            "id": "needs-jira",
            "name": "needs-jira",
            "description": "Sync tickets",
            "requiredMcpServers": ["jira"],
        },
    ] + [
        {"id": f"c{i:02d}", "name": f"c{i:02d}", "description": f"Custom {i} " * 60, "category": "ops"}
        for i in range(30)
    ]
    catalog = merge_catalog(official, records, mcp_servers=[], template_ids=ALL_TEMPLATES)
    selection = select_skills(
        catalog, SelectionInput(user_messages=["make slides for the offsite"], locale="en")
    )
    return RunSkills(catalog=catalog, selection=selection, locale="en")


@pytest.fixture
def tools(run):
    return {tool.name: tool for tool in build_skill_tools(run)}


def test_tool_objects_follow_the_local_tool_protocol(tools):
    assert (
        tuple(tools)
        == TOOL_NAMES
        == ("skill_list", "skill_get", "skill_context", "skill_catalog", "skill_describe")
    )
    for tool in tools.values():
        assert tool.side_effects is False and tool.description
        assert tool.parameters["type"] == "object" and tool.parameters["additionalProperties"] is False


async def call(tool, arguments):
    result = await tool.execute(arguments, CTX)
    assert json.loads(json.dumps(result)) == result  # JSON-serialisable
    return result


async def test_skill_list_filters_and_pages(tools):
    first = await call(tools["skill_list"], {})
    assert first["total"] == 37 and len(first["skills"]) == 25 and first["nextOffset"] == 25
    rest = await call(tools["skill_list"], {"offset": 25})
    assert len(rest["skills"]) == 12 and rest["nextOffset"] is None
    ids = [(s["id"], s["source"]) for s in first["skills"] + rest["skills"]]
    assert len(set(ids)) == 37
    page = await call(tools["skill_list"], {"source": "custom", "limit": 10, "offset": 10})
    assert page["total"] == 32 and len(page["skills"]) == 10 and page["nextOffset"] == 20
    assert all(s["source"] == "custom" for s in page["skills"])
    research = await call(tools["skill_list"], {"category": "research"})
    assert {(s["id"], s["source"]) for s in research["skills"]} == {
        ("research-brief", "official"),
        ("research-brief", "custom"),
    }
    available = await call(tools["skill_list"], {"include_unavailable": False, "query": "jira"})
    assert available["total"] == 0
    ja = await call(tools["skill_list"], {"source": "official", "locale": "ja"})
    assert any(s["title"] == "リサーチブリーフ" for s in ja["skills"])


async def test_skill_list_errors(tools):
    with pytest.raises(SkillToolError) as info:
        await tools["skill_list"].execute({"category": "astrology"}, CTX)
    assert info.value.kind == "domain_rejection" and "research" in info.value.message
    with pytest.raises(SkillToolError) as info:
        await tools["skill_list"].execute({"source": "plugin"}, CTX)
    assert info.value.kind == "invalid_call" and info.value.hint == "correct_call"
    with pytest.raises(SkillToolError, match="limit"):
        await tools["skill_list"].execute({"limit": 0}, CTX)


async def test_skill_get_returns_the_full_skill(tools):
    skill = await call(tools["skill_get"], {"skill_id": "slides-author"})
    assert skill["source"] == "official" and "Speaker notes" in skill["instructions"]
    assert skill["contract"]["templateIds"] == ["slides-outline", "speaker-notes"]
    assert skill["locales"] == ["en", "ja"]
    ja = await call(tools["skill_get"], {"skill_id": "slides-author", "locale": "ja-JP"})
    assert ja["locale"] == "ja" and "スピーカーノート" in ja["instructions"]
    both = await call(tools["skill_get"], {"skill_id": "research-brief"})
    assert both["source"] == "official" and both["alsoExists"] == [
        {"id": "research-brief", "source": "custom"}
    ]
    mine = await call(tools["skill_get"], {"skill_id": "research-brief", "source": "custom"})
    assert mine["description"] == "Custom research flow" and "fallbackFrom" not in mine
    fallback = await call(tools["skill_get"], {"skill_id": "c01", "locale": "ja"})
    assert fallback["locale"] == "en" and fallback["fallbackFrom"] == "ja"


async def test_skill_get_errors(tools):
    with pytest.raises(SkillToolError) as info:
        await tools["skill_get"].execute({"skill_id": "reserch-brief"}, CTX)
    assert info.value.kind == "domain_rejection" and "research-brief" in info.value.message
    assert "skill_list" in info.value.message and info.value.kind in FAILURE_KINDS
    with pytest.raises(SkillToolError) as info:
        await tools["skill_get"].execute({}, CTX)
    assert info.value.kind == "invalid_call" and "skill_id" in info.value.message
    with pytest.raises(SkillToolError, match="source 'custom'"):
        await tools["skill_get"].execute({"skill_id": "slides-author", "source": "custom"}, CTX)


async def test_skill_context_explains_the_selection(tools):
    context = await call(tools["skill_context"], {})
    assert [s["id"] for s in context["activated"]] == ["slides-author"]
    assert context["activated"][0]["reasons"]
    assert {s["id"] for s in context["unavailable"]} == {"needs-jira"}
    assert "missing MCP server 'jira'" in context["unavailable"][0]["reasons"]
    assert len(context["listed"]) + context["unlistedCount"] + 2 == 37
    ja = await call(tools["skill_context"], {"locale": "ja"})
    assert ja["activated"][0]["title"] == "スライド作成"


async def test_skill_context_without_selection_and_bad_locale(run):
    tools = {t.name: t for t in build_skill_tools(RunSkills(catalog=run.catalog))}
    context = await call(tools["skill_context"], {})
    assert context["selected"] is False and context["availableCount"] == 36
    with pytest.raises(SkillToolError) as info:
        await tools["skill_context"].execute({"locale": "japanese language"}, CTX)
    assert info.value.kind == "invalid_call"


async def test_skill_catalog_summarises_everything(tools):
    catalog = await call(tools["skill_catalog"], {"locale": "ja"})
    assert catalog["total"] == 37 and catalog["bySource"] == {"official": 5, "custom": 32}
    assert catalog["byCategory"]["ops"] == 30
    assert "instructions" not in catalog["skills"][0]
    assert all(len(s["description"]) <= 200 for s in catalog["skills"])
    assert any(s["description"].endswith("…") for s in catalog["skills"])
    official = await call(tools["skill_catalog"], {"source": "official"})
    assert official["total"] == 5
    with pytest.raises(SkillToolError) as info:
        await tools["skill_catalog"].execute({"locale": 7}, CTX)
    assert info.value.kind == "invalid_call"


async def test_skill_describe_by_id_name_or_title(tools):
    by_title = await call(tools["skill_describe"], {"skill_ref": "Slides author"})
    assert by_title["id"] == "slides-author" and "instructions" not in by_title
    assert by_title["instructionsChars"] > 500 and by_title["selection"]["status"] == "activated"
    by_ja_title = await call(tools["skill_describe"], {"skill_ref": "計画ストラクチャラー"})
    assert by_ja_title["id"] == "planning-structurer"
    by_custom_name = await call(tools["skill_describe"], {"skill_ref": "our research"})
    assert (by_custom_name["id"], by_custom_name["source"]) == ("research-brief", "custom")
    ambiguous = await call(tools["skill_describe"], {"skill_ref": "research-brief"})
    assert ambiguous["source"] == "official" and ambiguous["alsoMatches"] == [
        {"id": "research-brief", "source": "custom"}
    ]


async def test_skill_describe_errors(tools):
    with pytest.raises(SkillToolError) as info:
        await tools["skill_describe"].execute({"skill_ref": "slide-author"}, CTX)
    assert info.value.kind == "domain_rejection" and "slides-author" in info.value.message
    with pytest.raises(SkillToolError) as info:
        await tools["skill_describe"].execute({"skill_ref": "x", "extra": 1}, CTX)
    assert info.value.kind == "invalid_call"
