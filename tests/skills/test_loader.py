from __future__ import annotations

from pathlib import Path

import pytest

from skills import SkillFileError, load_official_catalog, parse_skill_file
from skills.model import AGENT_SKILLS_NAME
from tests.skills._helpers import skill_text, write_skill

EXPECTED = {
    "research-brief": ("research", 100, {"web_fetch", "search", "create_artifact"}, set()),
    "writing-draft": ("writing", 90, {"create_artifact"}, set()),
    "planning-structurer": ("planning", 80, {"create_artifact", "set_reminder", "recall"}, set()),
    "slides-author": (
        "slides",
        95,
        {"create_artifact", "space_files_write"},
        {"slides-outline", "speaker-notes"},
    ),
    "repo-app-operator": (
        "software",
        110,
        {
            "store_search",
            "repo_fork",
            "create_repository",
            "container_start",
            "runtime_exec",
            "container_commit",
        },
        {"repo-app-bootstrap", "api-worker"},
    ),
}


def test_official_catalog_has_every_skill_in_both_locales(official):
    assert {(s.id, s.locale) for s in official} == {(i, loc) for i in EXPECTED for loc in ("en", "ja")}
    for skill in official:
        category, priority, tools, templates = EXPECTED[skill.id]
        assert (skill.category, skill.priority) == (category, priority)
        assert set(skill.contract.preferred_tools) == tools
        assert set(skill.contract.template_ids) == templates
        assert skill.source == "official"
        assert len(skill.instructions) > 800, "official skills carry real instructions"
        assert skill.triggers, skill.id


def test_official_names_satisfy_agent_skills_format(official):
    for skill in official:
        assert AGENT_SKILLS_NAME.match(skill.name) and len(skill.name) <= 64
        assert skill.name == skill.id == Path(skill.path or "").parent.name
        assert 0 < len(skill.description) <= 1024


def test_japanese_variants_are_in_japanese(official):
    for skill in (s for s in official if s.locale == "ja"):
        assert any("\u3040" <= ch <= "\u30ff" for ch in skill.instructions), skill.id


def test_valid_file_parses(tmp_path):
    path = write_skill(tmp_path, "demo-skill", "en", skill_text(contract={"preferred_tools": ["search"]}))
    skill = parse_skill_file(path)
    assert skill.id == "demo-skill" and skill.locale == "en" and skill.contract.preferred_tools == ("search",)
    assert skill.instructions.startswith("# Demo")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("no front matter here\n", "missing front matter"),
        ("---\nid: demo-skill\n", "unterminated front matter"),
        ("---\n- a list\n---\nbody\n", "must be a YAML mapping"),
        ("---\nid: [unclosed\n---\nbody\n", "while parsing"),
        (skill_text(description=None), "missing required key 'description'"),
        (skill_text(priority=None), "missing required key 'priority'"),
        (skill_text(colour="blue"), "unknown key 'colour'"),
        (skill_text(name="Demo Skill"), "Agent Skills format"),
        (skill_text(name="demo-skill-" + "x" * 60), "Agent Skills format"),
        (skill_text(id="other-skill"), "must match the folder name"),
        (skill_text(locale="ja"), "must match the file name"),
        (skill_text(body="   \n"), "body"),
        (skill_text(triggers="demo"), "'triggers' must be a list"),
        (skill_text(contract={"preferred_tool": ["x"]}), "unknown contract key 'preferred_tool'"),
        (skill_text(contract=["x"]), "'contract' must be a mapping"),
        (skill_text(description="x" * 1100), "description"),
        (skill_text(priority="high"), "priority"),
    ],
)
def test_broken_file_is_a_clear_error_naming_the_file(tmp_path, text, problem):
    path = write_skill(tmp_path, "demo-skill", "en", text)
    with pytest.raises(SkillFileError) as info:
        parse_skill_file(path)
    assert str(path) in str(info.value)
    assert problem in str(info.value)


def test_load_reports_the_broken_file_at_start(tmp_path):
    write_skill(tmp_path, "demo-skill", "en", skill_text())
    bad = write_skill(tmp_path, "demo-skill", "ja", skill_text(name="BAD NAME"))
    with pytest.raises(SkillFileError, match=r"ja\.md"):
        load_official_catalog(tmp_path)
    bad.write_text(skill_text(priority=11), encoding="utf-8")
    with pytest.raises(SkillFileError, match=r"'priority' differs from en\.md"):
        load_official_catalog(tmp_path)


def test_load_requires_english_variant_and_an_existing_root(tmp_path):
    write_skill(tmp_path, "demo-skill", "ja", skill_text())
    with pytest.raises(SkillFileError, match="missing the 'en' variant"):
        load_official_catalog(tmp_path)
    with pytest.raises(SkillFileError, match="does not exist"):
        load_official_catalog(tmp_path / "nope")


def test_locale_variants_must_agree_on_contract(tmp_path):
    write_skill(tmp_path, "demo-skill", "en", skill_text(contract={"template_ids": ["a"]}))
    write_skill(tmp_path, "demo-skill", "ja", skill_text(contract={"template_ids": ["b"]}))
    with pytest.raises(SkillFileError, match=r"contract\.template_ids"):
        load_official_catalog(tmp_path)
