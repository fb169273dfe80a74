"""Bounded JSON parsing: deeply nested documents are refused as a client error, never a RecursionError.

The C decoder of the json module recurses once per level, so a 64 KiB body of `[` is enough to raise
RecursionError (a 500 wherever it is not caught), and a document a little shallower than the interpreter's
limit parses but breaks whatever walks it next (validation, encoding, storage). No request this project
serves needs more than a few levels, so anything deeper than MAX_JSON_DEPTH is refused before it goes further.
"""

from __future__ import annotations

from typing import Any

MAX_JSON_DEPTH = 64
"""Arrays and objects nested deeper than this are refused (the contract's deepest shapes use about 8)."""


class JsonTooDeep(ValueError):
    """The document nests arrays/objects deeper than the limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"JSON nested deeper than {limit} levels")
        self.limit = limit


def nesting_depth_exceeds(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether a parsed value nests containers deeper than `limit` (iterative: no recursion to exhaust)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def loads_bounded(text: bytes | str, limit: int = MAX_JSON_DEPTH, **kwargs: Any) -> Any:
    """json.loads that raises JsonTooDeep (a ValueError) for documents nested deeper than `limit`."""
    import json

    try:
        value = json.loads(text, **kwargs)
    except RecursionError:
        raise JsonTooDeep(limit) from None
    if nesting_depth_exceeds(value, limit):
        raise JsonTooDeep(limit)
    return value
