"""Harmless remote tools the embedded control plane always offers.

They exist so that a developer running the container alone sees remote tools work end to end, and so that
tests can prove exactly-once execution (`counter` has a side effect that is counted in SQLite).
"""

from __future__ import annotations

import ast
import math
import operator
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from control_bridge.contract import RemoteTool
from control_bridge.tool_failure import ToolFailure

BUILTIN_TOOLS: dict[str, RemoteTool] = {
    "clock": RemoteTool(
        name="clock",
        description="Current date and time in UTC (ISO 8601).",
        parameters={"type": "object", "properties": {}, "additionalProperties": False},
        side_effects=False,
        tags=["builtin"],
    ),
    "calculator": RemoteTool(
        name="calculator",
        description="Evaluates an arithmetic expression (+ - * / // % **, parentheses, abs, round, sqrt).",
        parameters={
            "type": "object",
            "properties": {"expression": {"type": "string", "minLength": 1, "maxLength": 1000}},
            "required": ["expression"],
            "additionalProperties": False,
        },
        side_effects=False,
        tags=["builtin"],
    ),
    "counter": RemoteTool(
        name="counter",
        description="Increments a named counter and returns its new value (a visible side effect).",
        parameters={
            "type": "object",
            "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 128}},
            "required": ["name"],
            "additionalProperties": False,
        },
        side_effects=True,
        tags=["builtin"],
    ),
}

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_FUNCS: dict[str, Callable[..., Any]] = {"abs": abs, "round": round, "sqrt": math.sqrt}
_MAX_MAGNITUDE = 1e100
_MAX_DEPTH = 200
"""Deepest expression tree evaluated; `_eval` recurses once per level, so depth is bounded well below the
interpreter's recursion limit (which a 1,000-character expression can otherwise exceed)."""
_TOO_DEEP = "expression nested too deeply (at most 200 levels of operators and parentheses)"


def calculate(expression: str) -> float | int:
    """Evaluates arithmetic by walking the AST (never `eval`), refusing anything that could be costly."""
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError as exc:
        raise ToolFailure("domain_rejection", f"not an arithmetic expression: {exc.msg}") from None
    except (RecursionError, MemoryError):  # the parser's own nesting limits ("-" * 999 + "1")
        raise ToolFailure("domain_rejection", _TOO_DEEP) from None
    if _depth(tree.body) > _MAX_DEPTH:
        raise ToolFailure("domain_rejection", _TOO_DEEP)
    try:
        value = _eval(tree.body)
    except ZeroDivisionError:
        raise ToolFailure("domain_rejection", "division by zero") from None
    except (OverflowError, ValueError, TypeError) as exc:
        raise ToolFailure("domain_rejection", f"cannot evaluate: {exc}") from None
    return value


def _depth(root: ast.AST) -> int:
    """The tree's depth, without recursion."""
    deepest, stack = 0, [(root, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


def _eval(node: ast.AST) -> float | int:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return _bounded(node.value)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > 1000:
            raise ToolFailure("domain_rejection", "exponent too large")
        return _bounded(_BINARY[type(node.op)](left, right))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _bounded(_UNARY[type(node.op)](_eval(node.operand)))
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _FUNCS
        and not node.keywords
        and 1 <= len(node.args) <= 2
    ):
        return _bounded(_FUNCS[node.func.id](*(_eval(a) for a in node.args)))
    raise ToolFailure("domain_rejection", f"unsupported element: {type(node).__name__}")


def _bounded(value: object) -> float | int:
    if not isinstance(value, int | float):  # (complex results included)
        raise ToolFailure("domain_rejection", "result is not a real number")
    if isinstance(value, float) and not math.isfinite(value):
        raise ToolFailure("domain_rejection", "result is not finite")
    if abs(value) > _MAX_MAGNITUDE:
        raise ToolFailure("domain_rejection", "number too large")
    return value


def run_builtin(conn: sqlite3.Connection, name: str, arguments: dict[str, Any]) -> Any:
    """Runs a built-in tool; `conn` is inside the caller's transaction so the side effect commits with the
    recorded result (exactly once)."""
    if name == "clock":
        return {"utc": datetime.now(UTC).isoformat(timespec="seconds")}
    if name == "calculator":
        expression = str(arguments.get("expression", ""))
        return {"expression": expression, "result": calculate(expression)}
    if name == "counter":
        counter = str(arguments["name"])
        conn.execute(
            "INSERT INTO counters(name, value) VALUES (?, 1) "
            "ON CONFLICT(name) DO UPDATE SET value = value + 1",
            (counter,),
        )
        (value,) = conn.execute("SELECT value FROM counters WHERE name = ?", (counter,)).fetchone()
        return {"name": counter, "value": value}
    raise ToolFailure("unknown_tool", f"no built-in tool named {name!r}")
