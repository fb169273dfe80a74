from __future__ import annotations

import pytest

from control_bridge.contract import CustomSkillRecord
from skills import Catalog, Skill, availability_of, custom_skill_from_record, merge_catalog

ALL_TEMPLATES = ["slides-outline", "speaker-notes", "repo-app-bootstrap", "api-worker"]


def custom(id_: str, **extra: object) -> dict[str, object]:
    return {"id": id_, "name": id_, "description": f"{id_} things", **extra}


def test_custom_record_accepts_camel_case_dicts_and_contract_models():
    record = CustomSkillRecord.model_validate(
        {
            "id": "weekly-report",
            "name": "Weekly report",
            "preferredTools": ["create_artifact"],
            "requiredMcpServers": ["jira"],
            "activationTags": ["report"],
            "locale": "ja-JP",
        }
    )
    from_model = custom_skill_from_record(record)
    from_dict = custom_skill_from_record(record.model_dump(by_alias=True))
    for skill in (from_model, from_dict):
        assert skill.source == "custom" and skill.locale == "ja"
        assert skill.contract.preferred_tools == ("create_artifact",)
        assert skill.contract.required_mcp_servers == ("jira",)
        assert skill.activation_tags == ("report",)
        assert skill.description == "Weekly report"  # falls back to the name when empty


def test_merge_keeps_official_and_custom_with_the_same_id(official):
    catalog = merge_catalog(official, [custom("research-brief", description="Our own research flow")])
    assert ("official", "research-brief") in catalog.keys()
    assert ("custom", "research-brief") in catalog.keys()
    assert len(catalog) == 6
    assert catalog.variant(("custom", "research-brief"), "en").description == "Our own research flow"


def test_duplicate_custom_record_replaces_the_earlier_one_with_a_warning(official):
    catalog = merge_catalog(official, [custom("a", description="first"), custom("a", description="second")])
    assert catalog.variant(("custom", "a"), "en").description == "second"
    assert len([k for k in catalog.keys() if k[0] == "custom"]) == 1
    assert any("duplicate custom skill 'a'" in w for w in catalog.warnings)


def test_same_custom_id_in_two_locales_is_one_skill_with_two_variants():
    catalog = merge_catalog([], [custom("a", locale="en"), custom("a", locale="ja", description="日本語")])
    assert len(catalog) == 1 and catalog.locales(("custom", "a")) == ["en", "ja"]
    assert catalog.variant(("custom", "a"), "ja").description == "日本語"
    assert catalog.variant(("custom", "a"), "fr").locale == "en"  # falls back to English


@pytest.mark.parametrize(
    ("record", "where"),
    [
        ({"name": "no id"}, "id"),
        (custom("bad id!"), "id"),
        (custom("p", priority=5000), "priority"),
        ("text", "record"),
    ],
)
def test_bad_custom_record_is_skipped_with_a_warning(official, record, where):
    catalog = merge_catalog(official, [record, custom("good")])
    assert ("custom", "good") in catalog.keys()
    assert len(catalog) == 6
    assert catalog.warnings and where in catalog.warnings[0] and "#0 skipped" in catalog.warnings[0]


def test_availability_from_mcp_servers_templates_and_tools(official):
    records = [
        custom("needs-jira", required_mcp_servers=["jira"]),
        custom("wants-tool", preferredTools=["magic"]),
    ]
    catalog = merge_catalog(
        official,
        records,
        mcp_servers=["github"],
        template_ids=["slides-outline"],
        tool_names=["create_artifact"],
    )
    status = {k: catalog.variant(k, "en").availability for k in catalog.keys()}
    assert status[("custom", "needs-jira")].status == "unavailable"
    assert "missing MCP server 'jira'" in status[("custom", "needs-jira")].reasons
    assert status[("custom", "wants-tool")].status == "warning"
    slides = status[("official", "slides-author")]
    assert slides.status == "unavailable" and slides.reasons[0] == "missing template 'speaker-notes'"
    assert status[("official", "writing-draft")].status == "available"
    research = status[("official", "research-brief")]
    assert research.status == "warning" and any("web_fetch" in r for r in research.reasons)


def test_unknown_sets_skip_the_check(official):
    catalog = merge_catalog(official, [custom("x", required_mcp_servers=["jira"])])
    assert all(catalog.variant(k, "en").availability.status == "available" for k in catalog.keys())
    skill = catalog.variant(("official", "slides-author"), "en")
    full = availability_of(skill, mcp_servers=set(), template_ids=set(ALL_TEMPLATES), tool_names=None)
    assert full.status == "available"


def test_lookup_by_id_name_or_title_and_suggestions(official):
    catalog = Catalog(official)
    assert catalog.lookup("Research brief") == [("official", "research-brief")]
    assert catalog.lookup("リサーチブリーフ") == [("official", "research-brief")]
    assert catalog.lookup("SLIDES-AUTHOR") == [("official", "slides-author")]
    assert catalog.lookup("nothing") == []
    assert catalog.suggestions("reserch-brief") == ["research-brief"]


def test_skills_are_ordered_by_priority(official):
    ids = [s.id for s in Catalog(official).skills("en")]
    assert ids == [
        "repo-app-operator",
        "research-brief",
        "slides-author",
        "writing-draft",
        "planning-structurer",
    ]
    assert all(isinstance(s, Skill) and s.locale == "ja" for s in Catalog(official).skills("ja"))
