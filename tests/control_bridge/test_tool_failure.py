"""One tool-failure type: agent, skills (and memory) raise control_bridge.tool_failure.ToolFailure."""

from __future__ import annotations

from typing import Any

import pytest

from agent.models.types import ToolUsePart
from agent.tools import spec
from agent.tools.execution import execute_one
from agent.tools.registry import AdaptedTool, ToolRegistry
from control_bridge.tool_failure import DEFAULT_HINTS, FAILURE_KINDS, ToolFailure
from skills.errors import SkillError, SkillToolError


def test_one_type_everywhere() -> None:
    assert spec.ToolFailure is ToolFailure and spec.FAILURE_KINDS is FAILURE_KINDS
    error = SkillToolError("domain_rejection", "no such skill")
    assert isinstance(error, ToolFailure) and isinstance(error, SkillError)
    assert (error.kind, error.message, error.hint) == ("domain_rejection", "no such skill", "replan")
    assert set(DEFAULT_HINTS) == FAILURE_KINDS


@pytest.mark.parametrize(("kind", "hint"), [("invalid_call", "correct_call"), ("timeout", "replan")])
def test_default_hint_per_kind(kind: Any, hint: str) -> None:
    assert ToolFailure(kind, "x").hint == hint
    assert ToolFailure(kind, "x", "finish").hint == "finish"


def test_an_unknown_kind_is_a_bug_not_a_failure() -> None:
    with pytest.raises(ValueError, match="unknown tool failure kind"):
        ToolFailure("oops", "x")  # type: ignore[arg-type]


class _Refusing:
    name = "skill_get"
    description = "refuses"
    parameters: dict[str, Any] = {"type": "object", "properties": {}}
    side_effects = False

    async def execute(self, arguments: dict[str, Any], ctx: Any) -> Any:
        raise SkillToolError("domain_rejection", "No skill 'x'.", "replan")


async def test_the_loop_turns_a_skill_failure_into_a_typed_result() -> None:
    registry = ToolRegistry(tools={"skill_get": AdaptedTool(_Refusing())})
    ctx = spec.ToolCallContext(run_id="r", session_id="s", turn_id=1, tool_call_id="t1")
    outcome = await execute_one(registry, ToolUsePart(id="t1", name="skill_get", arguments={}), ctx)
    assert not outcome.ok
    assert outcome.error is not None
    assert outcome.error.wire() == {"kind": "domain_rejection", "message": "No skill 'x'.", "hint": "replan"}
