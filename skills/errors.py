"""Errors raised by the skills package.

    SkillError
    ├── SkillFileError     an official skill file is broken (raised at start, names the file)
    └── SkillToolError     a skill tool refused a call; carries the loop's failure `kind` and a recovery `hint`

`SkillToolError` is the bridge's `ToolFailure` (kind, message, hint), so the agent's tool registry turns it into
a typed tool result without this package importing `agent`.
"""

from __future__ import annotations

from pathlib import Path

from control_bridge.tool_failure import ToolFailure


class SkillError(Exception):
    """Base of every error this package raises on purpose."""


class SkillFileError(SkillError):
    """An official skill file failed validation; the message names the file and every problem found."""

    def __init__(self, path: Path | str, problems: list[str]) -> None:
        self.path = str(path)
        self.problems = list(problems)
        super().__init__(f"invalid skill file {self.path}: " + "; ".join(self.problems))


class SkillToolError(SkillError, ToolFailure):
    """A skill tool's typed failure: the shared `ToolFailure` (kind, message, hint), caught by the loop as
    such, and still a `SkillError` for callers of this package."""
