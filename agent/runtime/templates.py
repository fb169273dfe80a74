"""Strict templates for confirmation prompts and denied-tool results.

Jinja2 with StrictUndefined and `json` / `quote` filters. Every variable a template uses is checked against
the context keys when the template is registered, so a typo fails at start, not in the middle of a run.
"""

from __future__ import annotations

import json
from typing import Any

import jinja2
from jinja2 import meta

CONTEXT_KEYS: frozenset[str] = frozenset({"tool_name", "tool_call_id", "arguments", "reason", "requested_by"})

DEFAULTS: dict[str, str] = {
    "confirmation_title": "Allow {{ tool_name }}?",
    "confirmation_prompt": "The agent wants to run {{ tool_name }} with these arguments: {{ arguments | json }}",
    "denied_result": (
        '{"status": "denied", "tool": {{ tool_name | quote }}, "reason": {{ reason | quote }}, '
        '"message": "The user declined this action. Do not call it again; continue without it or ask the user."}'
    ),
}


class TemplateError(ValueError):
    pass


class Templates:
    def __init__(self, sources: dict[str, str] | None = None) -> None:
        self._env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
        self._env.filters["json"] = lambda v: json.dumps(v, ensure_ascii=False, sort_keys=True)
        self._env.filters["quote"] = lambda v: json.dumps("" if v is None else str(v), ensure_ascii=False)
        self._templates: dict[str, jinja2.Template] = {}
        for name, source in {**DEFAULTS, **(sources or {})}.items():
            self.register(name, source)

    def register(self, name: str, source: str) -> None:
        try:
            parsed = self._env.parse(source)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(f"template {name!r} does not parse: {exc}") from exc
        unknown = meta.find_undeclared_variables(parsed) - CONTEXT_KEYS
        if unknown:
            raise TemplateError(
                f"template {name!r} uses unknown keys {sorted(unknown)}; allowed: {sorted(CONTEXT_KEYS)}"
            )
        self._templates[name] = self._env.from_string(source)

    def render(self, name: str, **context: Any) -> str:
        return self._templates[name].render(**context)
