"""The five local skill tools, built per run from the run's catalog and selection.

They follow the local-tool protocol (name, description, parameters, side_effects, async execute) so the
agent adapts them without this package importing `agent`. All are read-only, so they may run in parallel.
Arguments are validated against the same JSON Schema the model sees; failures raise `SkillToolError`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from skills.catalog import Catalog, SkillKey
from skills.errors import SkillToolError
from skills.model import Skill
from skills.render import shorten
from skills.selection import Selection

LOCALE_SCHEMA = {
    "type": "string",
    "pattern": "^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})?$",
    "description": "Language of the skill text, e.g. 'en' or 'ja'. Defaults to the run's locale.",
}
BRIEF_DESCRIPTION_CHARS = 200
SOURCE_SCHEMA = {"type": "string", "enum": ["official", "custom"]}


@dataclass
class RunSkills:
    """What the skill tools of one run see: its catalog, its selection and its locale."""

    catalog: Catalog
    selection: Selection | None = None
    locale: str = "en"


Handler = Callable[[RunSkills, dict[str, Any], Any], Awaitable[Any]]


@dataclass
class SkillTool:
    """A local tool object (see the tool protocol in agent.tools.spec)."""

    name: str
    description: str
    parameters: dict[str, Any]
    handler: Handler
    run: RunSkills
    side_effects: bool = False
    _validator: Any = field(init=False, repr=False)

    def __post_init__(self) -> None:
        import jsonschema  # imported on first use: keeps `import skills` (and CLI start) light

        self._validator = jsonschema.Draft202012Validator(self.parameters)

    async def execute(self, arguments: dict[str, Any], ctx: Any = None) -> Any:
        errors = sorted(self._validator.iter_errors(arguments or {}), key=lambda e: list(e.path))
        if errors:
            where = "/".join(map(str, errors[0].path)) or "arguments"
            raise SkillToolError("invalid_call", f"{self.name}: {where}: {errors[0].message}", "correct_call")
        return await self.handler(self.run, arguments or {}, ctx)


def _locale(run: RunSkills, arguments: dict[str, Any], ctx: Any) -> str:
    value = arguments.get("locale") or run.locale or getattr(ctx, "locale", None) or "en"
    return str(value).lower().replace("_", "-").split("-")[0]


def _resolve(
    run: RunSkills, ref: str, source: str | None, *, by_name: bool
) -> tuple[SkillKey, list[SkillKey]]:
    if by_name:
        keys = run.catalog.lookup(ref, source=source)
    else:
        keys = [k for k in run.catalog.keys() if k[1] == ref and (source is None or k[0] == source)]
        keys.sort(key=lambda k: (k[0] != "official", k[1]))
    if not keys:
        hint = run.catalog.suggestions(ref)
        maybe = f" Did you mean: {', '.join(hint)}?" if hint else ""
        scope = f" with source '{source}'" if source else ""
        raise SkillToolError(
            "domain_rejection",
            f"No skill '{ref}'{scope}.{maybe} Call skill_list or skill_catalog to see the skills that exist.",
            "correct_call",
        )
    if run.selection is not None:  # an activated skill is the one the model most likely means
        active = {s.key for s in run.selection.activated}
        keys.sort(key=lambda k: k not in active)
    return keys[0], keys[1:]


def _variant(run: RunSkills, key: SkillKey, locale: str) -> dict[str, Any]:
    skill = run.catalog.variant(key, locale)
    data = skill.full()
    if skill.locale != locale:
        data["fallbackFrom"] = locale
    data["locales"] = run.catalog.locales(key)
    return data


async def _skill_list(run: RunSkills, args: dict[str, Any], ctx: Any) -> dict[str, Any]:
    locale = _locale(run, args, ctx)
    skills = run.catalog.skills(locale)
    categories = sorted({s.category for s in skills})
    if args.get("category") and args["category"] not in categories:
        raise SkillToolError(
            "domain_rejection",
            f"No category '{args['category']}'. Known categories: {', '.join(categories)}.",
            "correct_call",
        )
    query = str(args.get("query") or "").casefold()
    picked = [
        s
        for s in skills
        if (not args.get("source") or s.source == args["source"])
        and (not args.get("category") or s.category == args["category"])
        and (args.get("include_unavailable", True) or s.availability.status != "unavailable")
        and (not query or query in f"{s.id} {s.name} {s.display_name} {s.description}".casefold())
    ]
    offset, limit = int(args.get("offset", 0)), int(args.get("limit", 25))
    page = picked[offset : offset + limit]
    next_offset = offset + limit if offset + limit < len(picked) else None
    return {
        "locale": locale,
        "total": len(picked),
        "offset": offset,
        "nextOffset": next_offset,
        "skills": [_brief(s) for s in page],
    }


async def _skill_get(run: RunSkills, args: dict[str, Any], ctx: Any) -> dict[str, Any]:
    key, others = _resolve(run, args["skill_id"], args.get("source"), by_name=False)
    data = _variant(run, key, _locale(run, args, ctx))
    if others:
        data["alsoExists"] = [{"id": k[1], "source": k[0]} for k in others]
    return data


def _decision(run: RunSkills, skill: Skill) -> dict[str, Any] | None:
    if run.selection is None:
        return None
    found = run.selection.decision(skill.id, skill.source)
    return found.model_dump() if found else None


async def _skill_context(run: RunSkills, args: dict[str, Any], ctx: Any) -> dict[str, Any]:
    locale = _locale(run, args, ctx)
    selection = run.selection
    if selection is None:
        return {
            "locale": locale,
            "selected": False,
            "note": "No skill selection was made for this run.",
            "availableCount": sum(s.availability.status != "unavailable" for s in run.catalog.skills(locale)),
        }

    def brief(skill: Skill) -> dict[str, Any]:
        shown = run.catalog.variant(skill.key, locale)
        decision = selection.decision(skill.id, skill.source)
        return {**shown.summary(), "reasons": decision.reasons if decision else []}

    unavailable = [
        run.catalog.variant((d.source, d.id), locale)
        for d in selection.decisions
        if d.status == "unavailable"
    ]
    return {
        "locale": locale,
        "selectionLocale": selection.locale,
        "selected": True,
        "activated": [brief(s) for s in selection.activated],
        "listed": [brief(s) for s in selection.listed],
        "unlistedCount": selection.unlisted_count,
        "unavailable": [{**s.summary(), "reasons": list(s.availability.reasons)} for s in unavailable],
        "budgetTokens": selection.budget_tokens,
        "usedTokens": selection.used_tokens,
        "warnings": list(run.catalog.warnings),
    }


def _brief(skill: Skill) -> dict[str, Any]:
    """A summary with the description shortened: listings stay small even with hundreds of skills."""
    data = skill.summary()
    data["description"] = shorten(skill.description, BRIEF_DESCRIPTION_CHARS)
    return data


def catalog_summary(
    catalog: Catalog, locale: str = "en", source: str | None = None, *, brief: bool = True
) -> dict[str, Any]:
    """The whole catalog as summaries with counts (also usable as the `skills.catalog` JSON-RPC result,
    with `brief=False` for full descriptions)."""
    skills = [s for s in catalog.skills(locale) if not source or s.source == source]
    return {
        "locale": locale,
        "total": len(skills),
        "bySource": dict(Counter(s.source for s in skills)),
        "byCategory": dict(sorted(Counter(s.category for s in skills).items())),
        "skills": [_brief(s) if brief else s.summary() for s in skills],
        "warnings": list(catalog.warnings),
    }


async def _skill_catalog(run: RunSkills, args: dict[str, Any], ctx: Any) -> dict[str, Any]:
    return catalog_summary(run.catalog, _locale(run, args, ctx), args.get("source"))


async def _skill_describe(run: RunSkills, args: dict[str, Any], ctx: Any) -> dict[str, Any]:
    key, others = _resolve(run, args["skill_ref"], args.get("source"), by_name=True)
    data = _variant(run, key, _locale(run, args, ctx))
    instructions = data.pop("instructions")
    data["instructionsChars"] = len(instructions)
    data["selection"] = _decision(run, run.catalog.variant(key, run.locale))
    if others:
        data["alsoMatches"] = [{"id": k[1], "source": k[0]} for k in others]
    return data


def _schema(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": False,
    }


SPECS: tuple[tuple[str, str, dict[str, Any], Handler], ...] = (
    (
        "skill_list",
        "List skill summaries (official and custom), optionally filtered by source, category or a text query. "
        "Paged: pass offset=nextOffset for more. Use it to find skills not shown in the prompt.",
        _schema(
            {
                "source": SOURCE_SCHEMA,
                "category": {"type": "string", "minLength": 1, "maxLength": 64},
                "query": {"type": "string", "maxLength": 200},
                "include_unavailable": {"type": "boolean"},
                "locale": LOCALE_SCHEMA,
                "limit": {"type": "integer", "minimum": 1, "maximum": 100, "description": "default 25"},
                "offset": {"type": "integer", "minimum": 0},
            }
        ),
        _skill_list,
    ),
    (
        "skill_get",
        "Get one skill in full, including its instructions. Call it before doing work a listed skill covers.",
        _schema(
            {
                "skill_id": {"type": "string", "minLength": 1, "maxLength": 128},
                "source": SOURCE_SCHEMA,
                "locale": LOCALE_SCHEMA,
            },
            ("skill_id",),
        ),
        _skill_get,
    ),
    (
        "skill_context",
        "Which skills are active and listed for this run, which are unavailable, and why.",
        _schema({"locale": LOCALE_SCHEMA}),
        _skill_context,
    ),
    (
        "skill_catalog",
        "The whole skill catalog as summaries with counts by source and category.",
        _schema({"locale": LOCALE_SCHEMA, "source": SOURCE_SCHEMA}),
        _skill_catalog,
    ),
    (
        "skill_describe",
        "Describe a skill by id, name or title: contract, triggers, availability and why it was (not) selected.",
        _schema(
            {
                "skill_ref": {"type": "string", "minLength": 1, "maxLength": 200},
                "source": SOURCE_SCHEMA,
                "locale": LOCALE_SCHEMA,
            },
            ("skill_ref",),
        ),
        _skill_describe,
    ),
)
TOOL_NAMES: tuple[str, ...] = tuple(spec[0] for spec in SPECS)


def build_skill_tools(run_skills: RunSkills) -> list[SkillTool]:
    """The five skill tools for one run (fresh objects; nothing is shared between runs)."""
    return [
        SkillTool(name, description, params, handler, run_skills)
        for name, description, params, handler in SPECS
    ]
