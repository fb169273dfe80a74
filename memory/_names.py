"""Space id → database file name: injective, so two tenants can never share a file.

Letters, digits, `_` and `-` stand for themselves; every other byte of the UTF-8 id (and `~`, the escape
character itself, and a leading `.`) becomes `~XX`. Distinct ids therefore give distinct names, and no name
can escape the memory folder. Ids whose escaped form would be too long for a file system keep a readable
prefix and end in `~~` plus the full SHA-256 of the id (collision-resistant, and `~~` never appears in an
escaped name, whose `~` is always followed by two hex digits).
"""

from __future__ import annotations

import hashlib
import re

_PLAIN = re.compile(r"[A-Za-z0-9_.-]")
MAX_STEM = 160
SUFFIX = ".db"


def space_stem(space_id: str) -> str:
    out: list[str] = []
    for i, char in enumerate(space_id):
        if _PLAIN.fullmatch(char) and not (char == "." and i == 0):
            out.append(char)
        else:
            out.extend(f"~{b:02X}" for b in char.encode("utf-8"))
    stem = "".join(out) or "~"  # the empty id is not "default"
    if len(stem) > MAX_STEM:
        stem = stem[:80].rstrip("~0123456789ABCDEF") + "~~" + hashlib.sha256(space_id.encode()).hexdigest()
    return stem


def space_filename(space_id: str) -> str:
    return space_stem(space_id) + SUFFIX


def legacy_filename(space_id: str) -> str:
    """The name releases before schema v3 used (not injective: kept only to adopt old files)."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", space_id.strip())[:80].lstrip(".") or "default"
    if safe != space_id:
        safe += "-" + hashlib.sha1(space_id.encode()).hexdigest()[:10]
    return safe + SUFFIX
