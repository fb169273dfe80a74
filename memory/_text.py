"""Small text and id helpers shared by the store, search and views."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

_SPACES = re.compile(r"\s+")


def norm(text: str) -> str:
    return _SPACES.sub(" ", text.strip().lower())


def text_hash(*parts: str | None) -> str:
    return hashlib.sha1("\x1f".join(p or "" for p in parts).encode()).hexdigest()


def indexed_text(speaker: str | None, text: str) -> str:
    return f"{speaker}: {text}" if speaker else text


def ids(prefix: str, rowids: Iterable[int]) -> list[str]:
    return [f"{prefix}:{r}" for r in rowids]


def parse_id(value: str) -> tuple[str, int]:
    prefix, _, number = value.partition(":")
    if prefix not in ("ep", "fact", "edge", "ent") or not number.isdigit():
        raise ValueError(f"not a memory id: {value[:80]!r} (expected ep:N, fact:N, edge:N or ent:N)")
    return prefix, int(number)
