"""The run's skill catalog: official skills merged with the control plane's custom skills.

Dedup is on `(source, id)` per locale: an official and a custom skill may share an id (both stay, told apart by
`source`); a repeated custom record replaces the earlier one and leaves a warning. Availability is computed
here, once per run, from the MCP servers, template ids and tool names the run actually has.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from skills.model import Availability, ExecutionContract, Skill

SkillKey = tuple[str, str]
_CONTRACT_FIELDS = tuple(ExecutionContract.model_fields)
_CAMEL = {
    "activationTags": "activation_tags",
    "preferredTools": "preferred_tools",
    "outputModes": "output_modes",
    "durableOutputHints": "durable_output_hints",
    "requiredMcpServers": "required_mcp_servers",
    "templateIds": "template_ids",
}


class Catalog:
    """Skills of one run, grouped by key with one variant per locale. Read-only after construction."""

    def __init__(self, skills: Iterable[Skill], warnings: Iterable[str] = ()) -> None:
        self._variants: dict[SkillKey, dict[str, Skill]] = {}
        for skill in skills:
            self._variants.setdefault(skill.key, {})[skill.locale] = skill
        self.warnings: list[str] = list(warnings)
        self._matchers: dict[SkillKey, Any] = {}
        self._intent_texts: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] | None = None

    def __len__(self) -> int:
        return len(self._variants)

    def keys(self) -> list[SkillKey]:
        return list(self._variants)

    def locales(self, key: SkillKey) -> list[str]:
        return sorted(self._variants.get(key, {}))

    def variants(self, key: SkillKey) -> list[Skill]:
        return list(self._variants.get(key, {}).values())

    def variant(self, key: SkillKey, locale: str) -> Skill:
        """The skill in `locale`, else English, else any variant (a custom skill may exist in one locale)."""
        options = self._variants[key]
        return options.get(locale) or options.get("en") or next(iter(options.values()))

    def skills(self, locale: str) -> list[Skill]:
        """One variant per skill, ordered by priority (high first), then id."""
        chosen = [self.variant(key, locale) for key in self._variants]
        return sorted(chosen, key=lambda s: (-s.priority, s.id, s.source))

    def lookup(self, ref: str, *, source: str | None = None) -> list[SkillKey]:
        """Keys whose id, name or title equals `ref` (case-insensitive), official before custom."""
        wanted = ref.strip().casefold()
        found = []
        for key, options in self._variants.items():
            if source and key[0] != source:
                continue
            if key[1].casefold() == wanted or any(
                wanted in (s.name.casefold(), s.display_name.casefold()) for s in options.values()
            ):
                found.append(key)
        return sorted(found, key=lambda k: (k[0] != "official", k[1]))

    def suggestions(self, ref: str, limit: int = 3) -> list[str]:
        """Close ids for an error message ("did you mean …")."""
        ids = sorted({key[1] for key in self._variants})
        return difflib.get_close_matches(ref, ids, n=limit, cutoff=0.5)

    def example_model(self) -> Any:
        """The nearest-example intent model over every skill's examples (all locales), shared by catalogs
        with the same examples: a run's catalog is new, the official skills' examples are not."""
        from skills._examples import model_for

        examples = tuple(
            (
                self.variants(key)[0].label,
                tuple(e for v in self.variants(key) for e in v.examples),
                tuple(t for v in self.variants(key) for t in (v.description, " ; ".join(v.triggers))),
            )
            for key in self._variants
        )
        return model_for(tuple(item for item in examples if item[1]))

    def classifier(self) -> Any:
        """The learned intent model over the skills with enough examples (None when none has), shared by
        catalogs with the same examples."""
        from skills._classifier import classifier_for

        return classifier_for(self.intent_texts())

    def intent_texts(self) -> tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...]:
        """What the intent model learns from: (skill key, examples, description and triggers) of every
        skill with enough examples."""
        from skills._classifier import MIN_EXAMPLES

        if self._intent_texts is not None:
            return self._intent_texts
        trained = []
        for key in self._variants:
            examples = tuple(e for v in self.variants(key) for e in v.examples)
            if len(examples) >= MIN_EXAMPLES:  # the rest (most custom skills) do not change the model
                definitions = tuple(t for v in self.variants(key) for t in (v.description, *v.triggers))
                trained.append((self.variants(key)[0].label, examples, definitions))
        self._intent_texts = tuple(trained)
        return self._intent_texts

    def matcher(self, key: SkillKey) -> Any:
        """Compiled phrases for selection, built on first use and kept for the catalog's lifetime."""
        if key not in self._matchers:
            from skills.selection import SkillMatcher

            self._matchers[key] = SkillMatcher(self.variants(key))
        return self._matchers[key]


def warm_intent_model(official: Iterable[Skill]) -> Any:
    """Loads (or trains) the official skills' intent model in a daemon thread and returns the thread: the
    server calls it at start, so no run waits for the model and the start does not either."""
    from skills._classifier import warm_up

    return warm_up(Catalog(official).intent_texts())


def _record_to_dict(record: Any) -> dict[str, Any]:
    if isinstance(record, Mapping):
        data = dict(record)
    elif hasattr(record, "model_dump"):
        data = record.model_dump()
    else:
        raise TypeError(f"a custom skill must be a mapping or a pydantic model, not {type(record).__name__}")
    return {_CAMEL.get(k, k): v for k, v in data.items()}


def custom_skill_from_record(record: Any) -> Skill:
    """Converts a control-plane custom skill (dict or CustomSkillRecord, camelCase or snake_case)."""
    data = _record_to_dict(record)
    contract = {k: tuple(data.pop(k, None) or ()) for k in _CONTRACT_FIELDS}
    name = str(data.get("name") or data.get("id") or "")
    description = str(data.get("description") or "").strip() or name
    return Skill(
        id=str(data.get("id") or ""),
        name=name[:64],
        title=str(data.get("title") or name),
        description=description[:1024],
        source="custom",
        category=str(data.get("category") or "general"),
        locale=str(data.get("locale") or "en"),
        version=str(data.get("version") or "1"),
        priority=int(data.get("priority", 50)),
        triggers=tuple(str(t) for t in data.get("triggers") or () if str(t).strip()),
        activation_tags=tuple(str(t) for t in data.get("activation_tags") or () if str(t).strip()),
        examples=tuple(str(t) for t in data.get("examples") or () if str(t).strip()),
        instructions=str(data.get("instructions") or ""),
        contract=ExecutionContract.model_validate(contract),
    )


def availability_of(
    skill: Skill,
    *,
    mcp_servers: set[str] | None,
    template_ids: set[str] | None,
    tool_names: set[str] | None,
) -> Availability:
    """Missing MCP servers or templates make a skill unavailable; missing preferred tools only warn.

    A `None` set means the run did not say what it has, so that check is skipped (and noted).
    """
    blocking: list[str] = []
    warnings: list[str] = []
    contract = skill.contract
    if mcp_servers is not None:
        blocking += [
            f"missing MCP server '{m}'" for m in contract.required_mcp_servers if m not in mcp_servers
        ]
    if template_ids is not None:
        blocking += [f"missing template '{t}'" for t in contract.template_ids if t not in template_ids]
    if tool_names is not None:
        warnings += [
            f"preferred tool '{t}' is not available" for t in contract.preferred_tools if t not in tool_names
        ]
    if blocking:
        return Availability(status="unavailable", reasons=tuple(blocking + warnings))
    if warnings:
        return Availability(status="warning", reasons=tuple(warnings))
    return Availability()


def merge_catalog(
    official: Iterable[Skill],
    custom_records: Iterable[Any],
    *,
    mcp_servers: Iterable[str] | None = None,
    template_ids: Iterable[str] | None = None,
    tool_names: Iterable[str] | None = None,
) -> Catalog:
    """Builds the run's catalog. A bad custom record is skipped with a warning (never fails the run)."""
    mcp = set(mcp_servers) if mcp_servers is not None else None
    templates = set(template_ids) if template_ids is not None else None
    tools = set(tool_names) if tool_names is not None else None
    warnings: list[str] = []
    merged: dict[tuple[str, str, str], Skill] = {}
    for skill in official:
        merged[(*skill.key, skill.locale)] = skill
    for index, record in enumerate(custom_records):
        try:
            skill = custom_skill_from_record(record)
        except (ValidationError, TypeError, ValueError) as exc:
            first = exc.errors()[0] if isinstance(exc, ValidationError) else {"loc": (), "msg": str(exc)}
            where = ".".join(map(str, first["loc"])) or "record"
            warnings.append(f"custom skill #{index} skipped: {where}: {first['msg']}")
            continue
        full_key = (*skill.key, skill.locale)
        if full_key in merged:
            warnings.append(
                f"duplicate custom skill '{skill.id}' ({skill.locale}): the later record replaced the earlier one"
            )
        merged[full_key] = skill
    final = [
        s.model_copy(
            update={
                "availability": availability_of(s, mcp_servers=mcp, template_ids=templates, tool_names=tools)
            }
        )
        for s in merged.values()
    ]
    return Catalog(final, warnings)
