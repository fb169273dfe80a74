from __future__ import annotations

import ast
from pathlib import Path

import skills

PACKAGE = Path(skills.__file__).parent


def test_public_api_is_pinned():
    assert sorted(skills.__all__) == sorted(
        [
            "OFFICIAL_ROOT",
            "SUPPORTED_LOCALES",
            "TOOL_NAMES",
            "Availability",
            "Catalog",
            "ExecutionContract",
            "RunSkills",
            "Selection",
            "SelectionInput",
            "SimilarityFn",
            "Skill",
            "SkillDecision",
            "SkillError",
            "SkillFileError",
            "SkillTool",
            "SkillToolError",
            "approx_tokens",
            "availability_of",
            "build_skill_tools",
            "catalog_summary",
            "custom_skill_from_record",
            "load_official_catalog",
            "make_embedding_similarity",
            "merge_catalog",
            "parse_accept_language",
            "parse_skill_file",
            "prepare_run_skills",
            "render_listing_line",
            "render_skill_block",
            "resolve_locale",
            "resolve_locale_with_reason",
            "select_skills",
            "warm_intent_model",
        ]
    )
    assert all(hasattr(skills, name) for name in skills.__all__)


def test_skills_imports_neither_agent_nor_memory():
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            assert not any(n.split(".")[0] in {"agent", "memory"} for n in names), (path, names)
