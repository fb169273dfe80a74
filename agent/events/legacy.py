"""Run-log schema 2 → 3: events written before the one wire vocabulary, rewritten in place.

Schema 2 logged some payloads in snake_case and seconds (`policy.decision`, the usage of terminal events,
`run.reminder`) and named tools `name` and awaits `id`. The upgrade maps each old payload onto its event
model's keys; unknown types are left as they are.
"""

from __future__ import annotations

from typing import Any

from pydantic.alias_generators import to_camel

_SECONDS = {
    "time_budget_s": "timeBudgetMs",
    "finalizer_grace_s": "finalizerGraceMs",
    "remainingS": "remainingMs",
}
_TOOL_TYPES = frozenset({"tool.scheduled", "tool.result", "tool.shadowed"})
_AWAIT_TYPES = frozenset({"await.confirmation", "await.clarification"})
_TERMINAL = frozenset({"run.completed", "run.failed", "run.canceled"})
_ZERO_USAGE = {"inputTokens": 0, "outputTokens": 0, "cachedInputTokens": 0, "modelCalls": 0, "toolCalls": 0}


def _camel(data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key in _SECONDS:
            out[_SECONDS[key]] = round(float(value) * 1000)
        else:
            out[to_camel(key)] = value
    return out


def upgrade_event(type_: str, data: dict[str, Any]) -> dict[str, Any]:
    data = dict(data)
    if type_ in _TOOL_TYPES and "name" in data:
        data["toolName"] = data.pop("name")
    elif type_ in _AWAIT_TYPES and "id" in data:
        data["awaitId"] = data.pop("id")
    elif type_ == "child_run.linked" and "tool" in data:
        data["toolName"] = data.pop("tool")
    elif type_ == "run.reminder":
        data = _camel(data)
    elif type_ == "policy.decision" and isinstance(data.get("policy"), dict):
        data["policy"] = _camel(data["policy"])
    elif type_ == "prompt.rendered" and isinstance(data.get("sections"), dict):
        data["sections"] = {to_camel(k): v for k, v in data["sections"].items()}
    if type_ in _TERMINAL:
        usage = data.get("usage")
        data["usage"] = _camel(usage) if isinstance(usage, dict) else dict(_ZERO_USAGE)
    return data
