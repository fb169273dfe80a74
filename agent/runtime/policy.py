"""RunPolicy and its merge: built-in defaults → run.config → policy.override.

`run.config` is the control plane's word and replaces the built-in defaults; a process-local override may
only tighten what that produced (smaller caps, fewer tools, interrupts off) — with one deliberate exception:
an operator may remove tools from the confirmation set (issue 5), which is recorded in the decision event.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from control_bridge.contract import PolicyConfig


class RunPolicy(BaseModel):
    model_config = ConfigDict(frozen=True)

    max_tool_calls: int = 50
    max_consecutive_failed_tool_calls: int = 3
    time_budget_s: float = 600.0
    finalizer_grace_s: float = 30.0
    interrupts_allowed: bool = True
    tool_allow: tuple[str, ...] | None = None
    """Names or `tag:NAME`; None = every tool."""
    tool_block: tuple[str, ...] = ()
    require_confirmation: tuple[str, ...] = ()
    labels: dict[str, str] = Field(default_factory=dict)

    def allows(self, name: str, tags: tuple[str, ...] | list[str] = ()) -> bool:
        keys = {name, *(f"tag:{t}" for t in tags)}
        if keys & set(self.tool_block):
            return False
        return self.tool_allow is None or bool(keys & set(self.tool_allow))


class PolicyOverride(BaseModel):
    """`policy.override` params: only non-zero / non-empty fields apply, to runs started afterwards."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    max_tool_calls: int = Field(default=0, ge=0, alias="maxToolCalls")
    max_consecutive_failed_tool_calls: int = Field(default=0, ge=0, alias="maxConsecutiveFailedToolCalls")
    time_budget_ms: int = Field(default=0, ge=0, alias="timeBudgetMs")
    finalizer_grace_ms: int = Field(default=0, ge=0, alias="finalizerGraceMs")
    interrupts_allowed: bool | None = Field(default=None, alias="interruptsAllowed")
    tool_block: list[str] = Field(default_factory=list, alias="toolBlock")
    tool_allow: list[str] | None = Field(default=None, alias="toolAllow")
    require_confirmation: list[str] = Field(default_factory=list, alias="requireConfirmation")
    remove_confirmation: list[str] = Field(default_factory=list, alias="removeConfirmation")
    labels: dict[str, str] = Field(default_factory=dict)


def _tighter(current: float, proposed: float) -> float:
    return min(current, proposed) if proposed > 0 else current


def from_config(defaults: RunPolicy, config: PolicyConfig) -> RunPolicy:
    """Applies the control plane's policy over the built-in defaults (non-zero values win)."""
    update: dict[str, object] = {}
    if config.max_tool_calls:
        update["max_tool_calls"] = config.max_tool_calls
    if config.max_consecutive_failed_tool_calls:
        update["max_consecutive_failed_tool_calls"] = config.max_consecutive_failed_tool_calls
    if config.time_budget_ms:
        update["time_budget_s"] = config.time_budget_ms / 1000
    if config.finalizer_grace_ms:
        update["finalizer_grace_s"] = config.finalizer_grace_ms / 1000
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
            "max_tool_calls": int(_tighter(policy.max_tool_calls, override.max_tool_calls)),
            "max_consecutive_failed_tool_calls": int(
                _tighter(policy.max_consecutive_failed_tool_calls, override.max_consecutive_failed_tool_calls)
            ),
            "time_budget_s": _tighter(policy.time_budget_s, override.time_budget_ms / 1000),
            "finalizer_grace_s": _tighter(policy.finalizer_grace_s, override.finalizer_grace_ms / 1000),
            "interrupts_allowed": policy.interrupts_allowed and override.interrupts_allowed is not False,
            "tool_allow": allow,
            "tool_block": tuple(dict.fromkeys([*policy.tool_block, *override.tool_block])),
            "require_confirmation": tuple(confirmation),
            "labels": {**policy.labels, **override.labels},
        }
    )
