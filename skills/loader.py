"""Loading and validating the official skill files (`official/<id>/<locale>.md`: YAML front matter + body).

Validation happens once, at start: a broken file raises `SkillFileError` naming the file and every problem,
so a bad edit fails the container's boot (and CI), never a user's run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from skills._background import read_lines
from skills.errors import SkillFileError
from skills.model import AGENT_SKILLS_NAME, ExecutionContract, Skill, SkillSource

OFFICIAL_ROOT = Path(__file__).resolve().parent / "official"
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader is ~10x faster than the pure-Python one; the catalog is parsed at every start."""
REQUIRED_KEYS = ("id", "name", "description", "category", "version", "priority")
ALLOWED_KEYS = frozenset(
    {
        *REQUIRED_KEYS,
        "title",
        "locale",
        "triggers",
        "activation_tags",
        "examples",
        "contract",
        "license",
        "metadata",
    }
)
CONSISTENT_ACROSS_LOCALES = ("category", "version", "priority")
CONSISTENT_CONTRACT = ("preferred_tools", "output_modes", "required_mcp_servers", "template_ids")
"""Locale variants differ in language only (durable output hints are prose, so they may be translated);
a mismatch here is almost always a forgotten edit."""


def split_front_matter(text: str) -> tuple[str, str]:
    """Splits `---\\n<yaml>\\n---\\n<body>`; raises ValueError when the fences are missing."""
    text = text.lstrip("\ufeff")
    if not text.startswith("---"):
        raise ValueError("missing front matter: the file must start with a '---' line")
    lines = text.splitlines(keepends=True)
    for index in range(1, len(lines)):
        if lines[index].strip() == "---":
            return "".join(lines[1:index]), "".join(lines[index + 1 :])
    raise ValueError("unterminated front matter: no closing '---' line")


def _as_str_list(value: Any, key: str, problems: list[str]) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        problems.append(f"'{key}' must be a list of non-empty strings")
        return ()
    return tuple(v.strip() for v in value)


def parse_skill_file(path: Path, *, source: SkillSource = "official") -> Skill:
    """Parses and validates one skill file. Every problem found is reported together."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SkillFileError(path, [f"cannot read: {exc}"]) from exc
    try:
        head, body = split_front_matter(text)
        meta = yaml.load(head, Loader=_SafeLoader)
    except (ValueError, yaml.YAMLError) as exc:
        raise SkillFileError(path, [str(exc).replace("\n", " ")]) from exc
    if not isinstance(meta, dict):
        raise SkillFileError(path, ["front matter must be a YAML mapping"])

    problems: list[str] = []
    problems += [f"missing required key '{k}'" for k in REQUIRED_KEYS if k not in meta]
    problems += [f"unknown key '{k}'" for k in sorted(set(meta) - ALLOWED_KEYS, key=str)]
    folder, locale = path.parent.name, path.stem
    name = meta.get("name")
    if isinstance(name, str) and (len(name) > 64 or not AGENT_SKILLS_NAME.match(name)):
        problems.append(
            "'name' must be at most 64 lowercase letters, digits and hyphens (Agent Skills format)"
        )
    if "id" in meta and meta["id"] != folder:
        problems.append(f"'id' ({meta['id']!r}) must match the folder name ({folder!r})")
    if "name" in meta and name != folder:
        problems.append(f"'name' ({name!r}) must match the folder name ({folder!r})")
    if "locale" in meta and str(meta["locale"]) != locale:
        problems.append(f"'locale' ({meta['locale']!r}) must match the file name ({locale!r})")
    if not body.strip():
        problems.append("the body (the skill's instructions) is empty")

    contract_raw = meta.get("contract") or {}
    contract: ExecutionContract | None = None
    if not isinstance(contract_raw, dict):
        problems.append("'contract' must be a mapping")
    else:
        unknown = set(contract_raw) - set(ExecutionContract.model_fields)
        problems += [f"unknown contract key '{k}'" for k in sorted(unknown, key=str)]
        fields = {
            k: _as_str_list(contract_raw.get(k), f"contract.{k}", problems)
            for k in ExecutionContract.model_fields
        }
        contract = ExecutionContract.model_validate(fields)
    triggers = _as_str_list(meta.get("triggers"), "triggers", problems)
    tags = _as_str_list(meta.get("activation_tags"), "activation_tags", problems)
    examples = _as_str_list(meta.get("examples"), "examples", problems)
    extra = path.parent / "examples" / f"{locale}.txt"
    if extra.is_file():  # the long list of example requests, kept out of the skill file (see the README)
        try:
            examples += read_lines(extra)
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"cannot read {extra.name}: {exc}")
    if problems:
        raise SkillFileError(path, problems)

    try:
        # (validated, not constructed: `id`, `name` and `priority` are the file's YAML values, checked here)
        return Skill.model_validate(
            {
                "id": meta["id"],
                "name": name,
                "title": str(meta.get("title") or ""),
                "description": str(meta["description"]).strip(),
                "source": source,
                "category": str(meta["category"]),
                "locale": locale,
                "version": str(meta["version"]),
                "priority": meta["priority"],
                "triggers": triggers,
                "activation_tags": tags,
                "examples": examples,
                "instructions": body.strip() + "\n",
                "contract": contract or ExecutionContract(),
                "path": str(path),
            }
        )
    except ValidationError as exc:
        messages = [f"'{'.'.join(map(str, e['loc']))}': {e['msg']}" for e in exc.errors()]
        raise SkillFileError(path, messages) from exc


def load_official_catalog(root: Path | None = None) -> list[Skill]:
    """Loads every `<root>/<id>/<locale>.md`, validated; raises SkillFileError naming the first bad file.

    Each skill must have an `en` variant (the fallback locale), and its locale variants must agree on
    category, version, priority and contract.
    """
    root = Path(root) if root is not None else OFFICIAL_ROOT
    if not root.is_dir():
        raise SkillFileError(root, ["the official skills folder does not exist"])
    skills: list[Skill] = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
        variants = [parse_skill_file(f) for f in sorted(folder.glob("*.md"))]
        if not variants:
            raise SkillFileError(folder, ["no <locale>.md files in the skill folder"])
        by_locale = {s.locale: s for s in variants}
        if "en" not in by_locale:
            raise SkillFileError(folder, ["missing the 'en' variant (en.md), which is the fallback locale"])
        base = by_locale["en"]
        for other in variants:
            for field in CONSISTENT_ACROSS_LOCALES:
                if getattr(other, field) != getattr(base, field):
                    raise SkillFileError(other.path or folder, [f"'{field}' differs from en.md"])
            for field in CONSISTENT_CONTRACT:
                if getattr(other.contract, field) != getattr(base.contract, field):
                    raise SkillFileError(other.path or folder, [f"'contract.{field}' differs from en.md"])
        skills.extend(variants)
    return skills
