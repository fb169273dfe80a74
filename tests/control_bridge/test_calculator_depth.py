"""Issue 16 item 15: an expression nested past Python's recursion limit is a typed domain rejection on both
planes (never `internal`, never `unavailable … outcome uncertain`)."""

from __future__ import annotations

import pytest

from .conftest import Plane
from .test_conformance import _exec, _started


@pytest.mark.parametrize(
    "expression",
    ["-" * 999 + "1", "(" * 499 + "1" + ")" * 499, "+".join(["1"] * 499), "-" * 300 + "1", "2**" * 300 + "1"],
)
async def test_deep_expressions_are_domain_rejections(plane: Plane, expression: str) -> None:
    run = await _started(plane)
    result = await plane.control.tools_execute(
        _exec(run.run_id, "deep", "calculator", {"expression": expression})
    )
    assert result.error is not None, result.output
    assert result.error.kind == "domain_rejection"
    assert not result.outcome_uncertain
    assert "nested" in result.error.message


async def test_ordinary_long_sums_still_evaluate(plane: Plane) -> None:
    run = await _started(plane)
    expression = "+".join(["1"] * 150) + "-" + "(" * 20 + "1" + ")" * 20
    result = await plane.control.tools_execute(
        _exec(run.run_id, "sum", "calculator", {"expression": expression})
    )
    assert result.error is None and result.output["result"] == 149
