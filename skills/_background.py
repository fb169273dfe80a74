"""What asking for no skill looks like: everyday questions and small talk, in English and Japanese.

The intent models (`skills._classifier`, `skills._examples`) treat these as one more class. A prompt nearest
to them gains no skill; and a word that everyday talk shares with a skill's examples ("new", "day", "教えて")
weighs less, because the models see it in both. The sentences live in `background/<locale>.txt`, one a line.
"""

from __future__ import annotations

import functools
from pathlib import Path

NO_SKILL = "none"
BACKGROUND_ROOT = Path(__file__).resolve().parent / "background"


def read_lines(path: Path) -> tuple[str, ...]:
    """One example a line; blank lines and lines starting with '#' are skipped."""
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return tuple(line for line in lines if line and not line.startswith("#"))


@functools.cache
def background() -> tuple[str, ...]:
    return tuple(t for path in sorted(BACKGROUND_ROOT.glob("*.txt")) for t in read_lines(path))


BACKGROUND = background()
