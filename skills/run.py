"""One call that prepares a run's skills: merge the catalog, resolve the locale, select, ready the tools.

The agent calls this once per run with what `skills.runtimeContext` returned; the result feeds the prompt
builder (activated skills and listing), the `skill.selection` event and `build_skill_tools`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from skills.catalog import merge_catalog
from skills.locale import resolve_locale_with_reason
from skills.model import Skill
from skills.selection import SelectionInput, SimilarityFn, select_skills
from skills.tools import RunSkills


def _field(source: Any, *names: str) -> Any:
    for name in names:
        if isinstance(source, Mapping) and name in source:
            return source[name]
        if not isinstance(source, Mapping) and hasattr(source, name):
            return getattr(source, name)
    return None


def prepare_run_skills(
    official: Iterable[Skill],
    runtime_context: Any,
    *,
    user_messages: list[str],
    tool_names: Iterable[str] | None = None,
    thread_title: str | None = None,
    run_input: str | None = None,
    agent_type: str | None = None,
    explicit_locale: str | None = None,
    budget_tokens: int = 2500,
    listing_budget_tokens: int | None = 1200,
    embedder_similarity: SimilarityFn | None = None,
    count_tokens: Callable[[str], int] | None = None,
) -> RunSkills:
    """`runtime_context` is a `SkillsRuntimeContextResult` (or its dict, camelCase or snake_case), or None.

    Its `locale` is the thread/space preference; `explicit_locale` is an explicit request for this run.
    """
    ctx = runtime_context or {}
    catalog = merge_catalog(
        official,
        _field(ctx, "custom_skills", "customSkills") or [],
        mcp_servers=_field(ctx, "mcp_servers", "mcpServers"),
        template_ids=_field(ctx, "template_ids", "templateIds"),
        tool_names=tool_names,
    )
    text = next((m for m in reversed(user_messages) if m and m.strip()), run_input or "")
    locale, why = resolve_locale_with_reason(
        explicit_locale, _field(ctx, "locale"), _field(ctx, "accept_language", "acceptLanguage"), text
    )
    selection = select_skills(
        catalog,
        SelectionInput(
            user_messages=user_messages,
            thread_title=thread_title,
            run_input=run_input,
            agent_type=agent_type,
            locale=locale,
            locale_source=why,
        ),
        budget_tokens=budget_tokens,
        listing_budget_tokens=listing_budget_tokens,
        embedder_similarity=embedder_similarity,
        count_tokens=count_tokens,
    )
    preselected = _field(ctx, "preselected")
    if preselected is not None:
        # The control plane already chose (Takos): its choice is the activation; the listing stays ours.
        wanted = [str(i) for i in preselected]
        by_id = {s.id: s for s in catalog.skills(locale) if s.source == "custom"}
        activated = [by_id[i] for i in dict.fromkeys(wanted) if i in by_id]
        selection = selection.model_copy(
            update={"activated": activated, "listed": [s for s in selection.listed if s not in activated]}
        )
    return RunSkills(catalog=catalog, selection=selection, locale=locale)
