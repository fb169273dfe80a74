"""RunPolicy and its merge: built-in defaults → run.config → policy.override.

`run.config` is the control plane's word and replaces the built-in defaults; a process-local override may
only tighten what that produced (smaller caps, fewer tools, interrupts off) — with one deliberate exception:
an operator may remove tools from the confirmation set (an operator knows a tool is safe in their setup),
which is recorded in the decision event.
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from control_bridge.contract import PolicyConfig
from control_bridge.wire import StrictWireModel, WireModel


class RunPolicy(WireModel):
    """The effective policy of a run, as `run.get` and `policy.decision` show it."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)

    max_tool_calls: int = 50
    max_consecutive_failed_tool_calls: int = 3
    time_budget_ms: int = 600_000
    finalizer_grace_ms: int = 30_000
    interrupts_allowed: bool = True
    tool_allow: tuple[str, ...] | None = None
    """Names or `tag:NAME`; None = every tool."""
    tool_block: tuple[str, ...] = ()
    require_confirmation: tuple[str, ...] = ()
    labels: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _upgrade(cls, data: Any) -> Any:
        """Schema-2 checkpoints kept the budget and the grace in seconds."""
        if isinstance(data, dict) and ("time_budget_s" in data or "finalizer_grace_s" in data):
            data = dict(data)
            for old, new in (
                ("time_budget_s", "time_budget_ms"),
                ("finalizer_grace_s", "finalizer_grace_ms"),
            ):
                if old in data:
                    data[new] = round(float(data.pop(old)) * 1000)
        return data

    @property
    def time_budget_s(self) -> float:
        return self.time_budget_ms / 1000

    @property
    def finalizer_grace_s(self) -> float:
        return self.finalizer_grace_ms / 1000

    def allows(self, name: str, tags: tuple[str, ...] | list[str] = ()) -> bool:
        keys = {name, *(f"tag:{t}" for t in tags)}
        if keys & set(self.tool_block):
            return False
        return self.tool_allow is None or bool(keys & set(self.tool_allow))


class PolicyOverride(StrictWireModel):
    """`policy.override` params: only non-zero / non-empty fields apply, to runs started afterwards."""

    max_tool_calls: int = Field(default=0, ge=0)
    max_consecutive_failed_tool_calls: int = Field(default=0, ge=0)
    time_budget_ms: int = Field(default=0, ge=0)
    finalizer_grace_ms: int = Field(default=0, ge=0)
    interrupts_allowed: bool | None = None
    tool_block: list[str] = Field(default_factory=list)
    tool_allow: list[str] | None = None
    require_confirmation: list[str] = Field(default_factory=list)
    remove_confirmation: list[str] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)


def _tighter(current: int, proposed: int) -> int:
    return min(current, proposed) if proposed > 0 else current


def from_config(defaults: RunPolicy, config: PolicyConfig) -> RunPolicy:
    """Applies the control plane's policy over the built-in defaults (non-zero values win)."""
    update: dict[str, object] = {}
    if config.max_tool_calls:
        update["max_tool_calls"] = config.max_tool_calls
    if config.max_consecutive_failed_tool_calls:
        update["max_consecutive_failed_tool_calls"] = config.max_consecutive_failed_tool_calls
    if config.time_budget_ms:
        update["time_budget_ms"] = config.time_budget_ms
    if config.finalizer_grace_ms:
        update["finalizer_grace_ms"] = config.finalizer_grace_ms
    if config.interrupts_allowed is not None:
        update["interrupts_allowed"] = config.interrupts_allowed
    if config.tool_allow is not None:
        update["tool_allow"] = tuple(config.tool_allow)
    if config.tool_block:
        update["tool_block"] = tuple(config.tool_block)
    if config.require_confirmation:
        update["require_confirmation"] = tuple(config.require_confirmation)
    if config.labels:
        update["labels"] = {**defaults.labels, **config.labels}
    return defaults.model_copy(update=update)


def apply_override(policy: RunPolicy, override: PolicyOverride | None) -> RunPolicy:
    """Tightens only: a larger cap, a re-allowed tool or interrupts switched back on are ignored."""
    if override is None:
        return policy
    allow = policy.tool_allow
    if override.tool_allow is not None:
        wanted = tuple(override.tool_allow)
        allow = wanted if allow is None else tuple(t for t in allow if t in wanted)
    confirmation = [t for t in policy.require_confirmation if t not in override.remove_confirmation]
    confirmation += [t for t in override.require_confirmation if t not in confirmation]
    return policy.model_copy(
        update={
            "max_tool_calls": _tighter(policy.max_tool_calls, override.max_tool_calls),
            "max_consecutive_failed_tool_calls": _tighter(
                policy.max_consecutive_failed_tool_calls, override.max_consecutive_failed_tool_calls
            ),
            "time_budget_ms": _tighter(policy.time_budget_ms, override.time_budget_ms),
            "finalizer_grace_ms": _tighter(policy.finalizer_grace_ms, override.finalizer_grace_ms),
            "interrupts_allowed": policy.interrupts_allowed and override.interrupts_allowed is not False,
            "tool_allow": allow,
            "tool_block": tuple(dict.fromkeys([*policy.tool_block, *override.tool_block])),
            "require_confirmation": tuple(confirmation),
            "labels": {**policy.labels, **override.labels},
        }
    )
