"""Helpers to write skill files for loader tests."""

from __future__ import annotations

from pathlib import Path


def write_skill(root: Path, folder: str, locale: str, text: str) -> Path:
    path = root / folder / f"{locale}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def skill_text(**overrides: object) -> str:
    """A valid skill file; overrides replace front-matter keys (None removes a key)."""
    import yaml

    meta: dict[str, object] = {
        "id": "demo-skill",
        "name": "demo-skill",
        "description": "Does demo things. Use when the user asks for a demo.",
        "category": "demo",
        "version": "1",
        "priority": 10,
        "triggers": ["demo"],
    }
    body = overrides.pop("body", "# Demo\n\nDo the demo.\n")
    for key, value in overrides.items():
        if value is None:
            meta.pop(key, None)
        else:
            meta[key] = value
    return "---\n" + yaml.safe_dump(meta, allow_unicode=True) + "---\n" + str(body)
