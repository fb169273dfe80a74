"""Deterministic models: `ScriptedModel` (a JSON script of turns), `FunctionModel(fn)` and the keyless default.

A script is stateless with respect to the client: the turn to play is the number of assistant messages
already in the transcript, so a run resumed from a checkpoint replays exactly where it left off.

Script format (JSON)::

    {"turns": [
        {"tool_calls": [{"name": "calculator", "arguments": {"expression": "2+2"}}]},
        {"text": "The answer is {{last_tool_result}}", "delay_ms": 0}
    ]}

`{{last_tool_result}}` and `{{input}}` are replaced in text. A turn may also carry `thinking`, `usage`
({input_tokens, output_tokens}) and `delay_ms`. Past the last turn the model answers with its last text turn.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from agent.models.base import BaseModelClient
from agent.models.types import (
    Message,
    ModelRequest,
    ModelResponse,
    TextPart,
    ThinkingPart,
    ToolResultPart,
    ToolUsePart,
    Usage,
)


class ScriptToolCall(BaseModel):
    name: str
    arguments: dict[str, Any] | str = Field(default_factory=dict)
    id: str | None = None


class ScriptTurn(BaseModel):
    text: str | None = None
    thinking: str | None = None
    tool_calls: list[ScriptToolCall] = Field(default_factory=list)
    delay_ms: int = Field(default=0, ge=0)
    usage: Usage | None = None
    error: str | None = None
    """Raise instead of answering (tests of failing model calls)."""


class Script(BaseModel):
    turns: list[ScriptTurn] = Field(min_length=1)

    @classmethod
    def load(cls, path: str | Path) -> Script:
        try:
            return cls.model_validate(json.loads(Path(path).read_text()))
        except FileNotFoundError as exc:
            raise ValueError(f"script file {path} does not exist") from exc
        except (json.JSONDecodeError, ValueError) as exc:
            raise ValueError(f"script file {path} is not a valid script: {exc}") from exc


def _last_tool_result(messages: list[Message]) -> str:
    for message in reversed(messages):
        for part in reversed(message.parts):
            if isinstance(part, ToolResultPart):
                return part.content
    return ""


def _last_user_text(messages: list[Message]) -> str:
    for message in reversed(messages):
        if message.role == "user" and message.text_content:
            return message.text_content
    return ""


def _estimate_tokens(text: str) -> int:
    return max(1, len(text) // 4)


class ScriptedModel(BaseModelClient):
    provider = "scripted"

    def __init__(self, script: Script, *, model: str = "script") -> None:
        self.script = script
        self.model = model
        self.calls: list[ModelRequest] = []

    async def _complete(self, request: ModelRequest) -> ModelResponse:
        self.calls.append(request)
        played = sum(1 for m in request.messages if m.role == "assistant")
        if request.tool_choice == "none" or not request.tools:
            # Finalization turn (no tools offered): skip to the first text-only turn from here on.
            turns = self.script.turns[played:] + self.script.turns[::-1]
            turn = next((t for t in turns if not t.tool_calls), ScriptTurn(text="(no final text in script)"))
        else:
            turn = self.script.turns[min(played, len(self.script.turns) - 1)]
        if turn.delay_ms:
            await asyncio.sleep(turn.delay_ms / 1000)
        if turn.error:
            raise RuntimeError(turn.error)
        parts: list[Any] = []
        if turn.thinking:
            parts.append(ThinkingPart(thinking=turn.thinking, signature="scripted"))
        if turn.text:
            text = turn.text.replace("{{last_tool_result}}", _last_tool_result(request.messages))
            parts.append(TextPart(text=text.replace("{{input}}", _last_user_text(request.messages))))
        for i, call in enumerate(turn.tool_calls):
            call_id = call.id or f"call_{played}_{i}"
            if isinstance(call.arguments, str):
                parts.append(ToolUsePart(id=call_id, name=call.name, raw_arguments=call.arguments))
            else:
                parts.append(ToolUsePart(id=call_id, name=call.name, arguments=call.arguments))
        prompt_size = sum(len(p.model_dump_json()) for m in request.messages for p in m.parts)
        usage = turn.usage or Usage(
            input_tokens=prompt_size // 4, output_tokens=_estimate_tokens(turn.text or "") + 8 * len(parts)
        )
        return ModelResponse(
            message=Message(role="assistant", parts=parts),
            stop_reason="tool_use" if turn.tool_calls else "end_turn",
            usage=usage,
            model=self.model,
            provider=self.provider,
        )


ModelFunction = Callable[[ModelRequest], Awaitable[ModelResponse]]


class FunctionModel(BaseModelClient):
    """A model defined by an async function: the most flexible fake for tests."""

    provider = "function"

    def __init__(self, fn: ModelFunction, *, model: str = "fn") -> None:
        self.fn = fn
        self.model = model
        self.calls: list[ModelRequest] = []

    async def _complete(self, request: ModelRequest) -> ModelResponse:
        self.calls.append(request)
        return await self.fn(request)


LOCAL_NOTICE = (
    "No language model is configured, so this is the built-in local runner, not a language model. "
    "Set MODEL (for example openai:gpt-4o-mini or anthropic:claude-sonnet-4-5) to use one."
)


class LocalEchoModel(BaseModelClient):
    """The keyless default: says plainly that it is not a language model and echoes what it got."""

    provider = "local"
    model = "echo"

    async def _complete(self, request: ModelRequest) -> ModelResponse:
        said = _last_user_text(request.messages)
        text = f"{LOCAL_NOTICE}\n\nYou said: {said}" if said else LOCAL_NOTICE
        return ModelResponse(
            message=Message.text("assistant", text),
            usage=Usage(input_tokens=_estimate_tokens(said), output_tokens=_estimate_tokens(text)),
            model=self.model,
            provider=self.provider,
        )
