"""Every example of section 7 of the JSON-RPC 2.0 specification, as a parametrised corpus."""

from __future__ import annotations

import json
from typing import Any

import pytest

from control_bridge.jsonrpc import handle_jsonrpc


async def subtract(params: Any) -> Any:
    if isinstance(params, list):
        return params[0] - params[1]
    return params["minuend"] - params["subtrahend"]


async def total(params: Any) -> Any:
    return sum(params)


async def nothing(params: Any) -> Any:
    return None


async def get_data(params: Any) -> Any:
    return ["hello", 5]


async def boom(params: Any) -> Any:
    raise RuntimeError("secret internal detail")


METHODS = {
    "subtract": subtract,
    "sum": total,
    "update": nothing,
    "notify_hello": nothing,
    "notify_sum": nothing,
    "get_data": get_data,
    "boom": boom,
}

SPEC: list[tuple[str, str, Any]] = [
    (
        "positional",
        '{"jsonrpc": "2.0", "method": "subtract", "params": [42, 23], "id": 1}',
        {"jsonrpc": "2.0", "result": 19, "id": 1},
    ),
    (
        "positional-2",
        '{"jsonrpc": "2.0", "method": "subtract", "params": [23, 42], "id": 2}',
        {"jsonrpc": "2.0", "result": -19, "id": 2},
    ),
    (
        "named",
        '{"jsonrpc": "2.0", "method": "subtract", "params": {"subtrahend": 23, "minuend": 42}, "id": 3}',
        {"jsonrpc": "2.0", "result": 19, "id": 3},
    ),
    (
        "named-2",
        '{"jsonrpc": "2.0", "method": "subtract", "params": {"minuend": 42, "subtrahend": 23}, "id": 4}',
        {"jsonrpc": "2.0", "result": 19, "id": 4},
    ),
    ("notification", '{"jsonrpc": "2.0", "method": "update", "params": [1,2,3,4,5]}', None),
    ("notification-2", '{"jsonrpc": "2.0", "method": "foobar"}', None),
    (
        "no-method",
        '{"jsonrpc": "2.0", "method": "foobar", "id": "1"}',
        {"jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found"}, "id": "1"},
    ),
    (
        "invalid-json",
        '{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]',
        {"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}, "id": None},
    ),
    (
        "invalid-request",
        '{"jsonrpc": "2.0", "method": 1, "params": "bar"}',
        {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": None},
    ),
    (
        "batch-invalid-json",
        '[{"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"}, {"jsonrpc": "2.0", "method"]',
        {"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}, "id": None},
    ),
    (
        "empty-batch",
        "[]",
        {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": None},
    ),
    (
        "invalid-batch-1",
        "[1]",
        [{"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": None}],
    ),
    (
        "invalid-batch-3",
        "[1,2,3]",
        [{"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": None}] * 3,
    ),
    (
        "mixed-batch",
        '[{"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},'
        ' {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]},'
        ' {"jsonrpc": "2.0", "method": "subtract", "params": [42,23], "id": "2"},'
        ' {"foo": "boo"},'
        ' {"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"},'
        ' {"jsonrpc": "2.0", "method": "get_data", "id": "9"}]',
        [
            {"jsonrpc": "2.0", "result": 7, "id": "1"},
            {"jsonrpc": "2.0", "result": 19, "id": "2"},
            {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": None},
            {"jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found"}, "id": "5"},
            {"jsonrpc": "2.0", "result": ["hello", 5], "id": "9"},
        ],
    ),
    (
        "all-notifications",
        '[{"jsonrpc": "2.0", "method": "notify_sum", "params": [1,2,4]},'
        ' {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]}]',
        None,
    ),
]


def _strip_data(answer: Any) -> Any:
    """The spec's examples omit the optional `data` member; compare without it."""
    if isinstance(answer, list):
        return [_strip_data(a) for a in answer]
    if isinstance(answer, dict) and "error" in answer:
        answer = {**answer, "error": {k: v for k, v in answer["error"].items() if k != "data"}}
    return answer


@pytest.mark.parametrize(("name", "request_text", "expected"), SPEC, ids=[s[0] for s in SPEC])
async def test_spec_examples(name: str, request_text: str, expected: Any) -> None:
    answer = await handle_jsonrpc(request_text, METHODS)
    if expected is None:
        assert answer is None
    else:
        assert answer is not None
        assert _strip_data(json.loads(answer)) == expected


async def test_exception_text_never_reaches_the_client() -> None:
    answer = json.loads(await handle_jsonrpc('{"jsonrpc": "2.0", "method": "boom", "id": 1}', METHODS) or "")
    assert answer == {"jsonrpc": "2.0", "error": {"code": -32603, "message": "Internal error"}, "id": 1}


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
async def test_ids_and_values_that_are_not_json_are_a_parse_error(constant: str) -> None:
    text = await handle_jsonrpc(f'{{"jsonrpc": "2.0", "method": "echo", "id": {constant}}}', METHODS)
    answer = json.loads(text or "")  # (the answer itself is strict JSON: no NaN in it)
    assert answer == {"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}, "id": None}
