"""Skills: the official catalog, custom-skill merge, budgeted selection and the five skill tools.

This package imports neither `agent` nor `memory`; the agent passes in what it needs (token counter,
embedding similarity) and adapts the tool objects.
"""

from __future__ import annotations

from skills.catalog import (
    Catalog,
    availability_of,
    custom_skill_from_record,
    merge_catalog,
    warm_intent_model,
)
from skills.errors import SkillError, SkillFileError, SkillToolError
from skills.loader import OFFICIAL_ROOT, load_official_catalog, parse_skill_file
from skills.locale import SUPPORTED_LOCALES, parse_accept_language, resolve_locale, resolve_locale_with_reason
from skills.model import Availability, ExecutionContract, Skill
from skills.render import approx_tokens, render_listing_line, render_skill_block
from skills.run import prepare_run_skills
from skills.selection import (
    Selection,
    SelectionInput,
    SimilarityFn,
    SkillDecision,
    make_embedding_similarity,
    select_skills,
)
from skills.tools import TOOL_NAMES, RunSkills, SkillTool, build_skill_tools, catalog_summary

__all__ = [
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
