"""Executing one model batch of tool calls: validation, timeouts, size bounds and typed failures.

Every outcome, good or bad, becomes a `ToolOutcome` that goes back to the model as a tool result; nothing a
tool or the model does can raise out of here except a lost lease (which stops the run) and cancellation.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import fastjsonschema
import jsonschema

from agent.eager import bounded, run_concurrently
from agent.events.payloads import ToolErrorInfo, ToolResult
from agent.models.types import ToolResultPart, ToolUsePart
from agent.tools.registry import ToolRegistry
from agent.tools.spec import DEFAULT_HINTS, FAILURE_KINDS, ToolCallContext, ToolFailure
from control_bridge.contract import RecoveryHint
from control_bridge.contract import ToolFailureKind as FailureKind
from control_bridge.errors import LeaseLost

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 60.0
MAX_RESULT_CHARS = 32_000
_RESULT_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False)
TRUNCATION_MARKER = "\n…[truncated: {dropped} more characters not shown]"


@dataclass(frozen=True)
class ToolOutcome:
    tool_call_id: str
    name: str
    ok: bool
    content: str
    error: ToolErrorInfo | None = None

    def part(self) -> ToolResultPart:
        """The transcript's record of this outcome (what the model reads next turn)."""
        return ToolResultPart(tool_use_id=self.tool_call_id, content=self.content, is_error=not self.ok)

    def event(self, turn: int | None, *, refused: bool = False, denied: bool = False) -> ToolResult:
        """The `tool.result` event of this outcome (the one place it is built)."""
        return ToolResult(
            turn=turn,
            tool_call_id=self.tool_call_id,
            tool_name=self.name,
            ok=self.ok,
            output=self.content,
            error=self.error,
            refused=refused,
            denied=denied,
        )


_Check = Callable[[Any], Any]
_VALIDATORS: dict[int, tuple[dict[str, Any], _Check | None, jsonschema.protocols.Validator | None]] = {}


def _validators(schema: dict[str, Any]) -> tuple[_Check | None, jsonschema.protocols.Validator | None]:
    """Per schema object (tool specs are immutable for a run's life): a compiled fastjsonschema check for the
    hot path (~2 µs a call against ~25 µs) and a jsonschema validator for readable error messages."""
    cached = _VALIDATORS.get(id(schema))
    if cached is not None and cached[0] is schema:
        return cached[1], cached[2]
    try:
        cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        cls.check_schema(schema)
        validator: jsonschema.protocols.Validator | None = cls(schema)
    except (jsonschema.SchemaError, TypeError, ValueError):
        validator = None  # a broken schema is the tool author's problem, not the model's
    check: _Check | None = None
    if validator is not None:
        try:
            check = fastjsonschema.compile(schema)
        except Exception:  # a construct fastjsonschema cannot compile: jsonschema alone decides
            check = None
    if len(_VALIDATORS) > 4096:
        _VALIDATORS.clear()
    _VALIDATORS[id(schema)] = (schema, check, validator)
    return check, validator


def validate_arguments(schema: dict[str, Any], arguments: dict[str, Any]) -> str | None:
    """Returns a short description of what is wrong, or None when the arguments fit the schema."""
    check, validator = _validators(schema)
    if validator is None:
        return None
    if check is not None:
        try:
            check(arguments)
            return None
        except fastjsonschema.JsonSchemaException:
            pass
    elif validator.is_valid(arguments):
        return None
    errors = sorted(validator.iter_errors(arguments), key=lambda e: list(e.path))
    if not errors:
        return None  # the two validators disagree on an edge case: jsonschema is the reference
    return "; ".join(f"{'/'.join(map(str, e.path)) or '(root)'}: {e.message[:200]}" for e in errors[:5])


def render_result(value: Any) -> str:
    """Serialises a tool result for the model; raises TypeError/ValueError on garbage."""
    text = value if isinstance(value, str) else _RESULT_ENCODER.encode(value)
    if len(text) > MAX_RESULT_CHARS:
        dropped = len(text) - MAX_RESULT_CHARS
        text = text[:MAX_RESULT_CHARS] + TRUNCATION_MARKER.format(dropped=dropped)
    return text


def failure(
    call: ToolUsePart, kind: FailureKind, message: str, hint: RecoveryHint | None = None
) -> ToolOutcome:
    """A typed failure, as the model reads it (`{"error": {kind, message, hint}}`) and as events carry it."""
    error = ToolErrorInfo(kind=kind, message=message, hint=hint or DEFAULT_HINTS.get(kind, "replan"))
    return ToolOutcome(call.id, call.name, False, json.dumps({"error": error.wire()}), error)


async def execute_one(
    registry: ToolRegistry, call: ToolUsePart, ctx: ToolCallContext, max_s: float | None = None
) -> ToolOutcome:
    """Runs one call; `max_s` (the run's remaining time budget) caps the tool's own timeout."""
    tool = registry.get(call.name)
    if tool is None:
        known = ", ".join(sorted(registry.tools)) or "none"
        return failure(call, "unknown_tool", f"there is no tool named {call.name!r}; available: {known}")
    if call.raw_arguments is not None:
        return failure(call, "invalid_call", "the arguments were not a JSON object; send a JSON object")
    problem = validate_arguments(tool.spec.parameters, call.arguments)
    if problem:
        return failure(call, "invalid_call", f"arguments do not match the schema: {problem}")
    limit = tool.spec.timeout_s or DEFAULT_TIMEOUT_S
    budget_bound = max_s is not None and max_s < limit
    if budget_bound:
        limit = max(0.001, max_s or 0.0)
    try:
        value = await bounded(tool.execute(call.arguments, ctx), limit)
    except LeaseLost:
        raise
    except TimeoutError:
        why = (
            "the run's time budget ran out" if budget_bound else f"the tool did not answer within {limit:g}s"
        )
        return failure(call, "timeout", why, "finish" if budget_bound else None)
    except ToolFailure as exc:
        return failure(call, exc.kind, exc.message, exc.hint)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        kind = getattr(exc, "kind", None)
        if kind in FAILURE_KINDS:
            return failure(call, kind, str(getattr(exc, "message", exc)), getattr(exc, "hint", None))
        logger.exception("tool %s raised", call.name)
        return failure(call, "internal", f"the tool failed unexpectedly ({type(exc).__name__})")
    try:
        content = render_result(value)
    except (TypeError, ValueError):
        return failure(call, "malformed_result", "the tool returned a result that is not JSON-serialisable")
    return ToolOutcome(call.id, call.name, True, content)


async def execute_batch(
    registry: ToolRegistry,
    calls: list[ToolUsePart],
    make_ctx: Callable[[ToolUsePart], ToolCallContext],
    on_result: Callable[[ToolOutcome], Awaitable[None]],
    remaining_s: Callable[[], float] | None = None,
) -> list[ToolOutcome]:
    """Side-effect-free tools run concurrently; the others run one by one in the model's order."""

    async def run(call: ToolUsePart) -> ToolOutcome:
        outcome = await execute_one(registry, call, make_ctx(call), remaining_s() if remaining_s else None)
        await on_result(outcome)
        return outcome

    pure = [c for c in calls if (t := registry.get(c.name)) is not None and not t.spec.side_effects]
    outcomes: dict[str, ToolOutcome] = {}
    if len(pure) > 1:
        for outcome in await run_concurrently([run(c) for c in pure]):
            outcomes[outcome.tool_call_id] = outcome
    for call in calls:
        if call.id not in outcomes:
            outcomes[call.id] = await run(call)
    return [outcomes[c.id] for c in calls]
