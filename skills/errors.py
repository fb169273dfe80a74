"""Errors raised by the skills package.

    SkillError
    ├── SkillFileError     an official skill file is broken (raised at start, names the file)
    └── SkillToolError     a skill tool refused a call; carries the loop's failure `kind` and a recovery `hint`

`SkillToolError` follows the local-tool protocol (attributes `kind`, `message`, `hint`) so the agent's tool
registry can turn it into a typed tool result without this package importing `agent`.
"""

from __future__ import annotations

from pathlib import Path


class SkillError(Exception):
    """Base of every error this package raises on purpose."""


class SkillFileError(SkillError):
    """An official skill file failed validation; the message names the file and every problem found."""

    def __init__(self, path: Path | str, problems: list[str]) -> None:
        self.path = str(path)
        self.problems = list(problems)
        super().__init__(f"invalid skill file {self.path}: " + "; ".join(self.problems))


class SkillToolError(SkillError):
    """A skill tool's typed failure (kind is one of the loop's failure kinds)."""

    def __init__(self, kind: str, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.hint = hint or ("correct_call" if kind == "invalid_call" else "replan")
