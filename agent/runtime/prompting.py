"""What the loop hands a prompt builder each turn, and what it gets back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from agent.events.payloads import PromptRendered
from agent.models.types import Message, ToolDefinition
from agent.runtime.state import RunState


@dataclass
class PromptParts:
    state: RunState
    tools: list[ToolDefinition]
    reminder: str | None
    finalizing: bool


PromptBuilder = Callable[[PromptParts], Awaitable[tuple[list[Message], PromptRendered | None]]]
"""Returns the messages for the next model call and, optionally, the `prompt.rendered` ledger."""
