"""Transcript checks run before any request: a broken transcript fails here, named, not as a provider 400.

Rules (all providers):
- there is at least one non-system message;
- tool_use parts only in assistant messages, tool_result parts only in tool (or user) messages;
- every tool_use id is non-empty and unique in the transcript;
- every tool_use is answered by exactly one tool_result in the messages right after its assistant message
  (before the next assistant message), and every tool_result answers a tool_use from that assistant message.

Anthropic only:
- system messages come before everything else (they are hoisted into the `system` field);
- with thinking enabled, an assistant message with tool_use in the current tool loop (after the last user
  message that is not only tool results) starts with a thinking block that carries its signature.
"""

from __future__ import annotations

from agent.models.errors import TranscriptError
from agent.models.types import Message, ModelRequest, ThinkingPart, ToolResultPart, ToolUsePart


def _where(i: int, message: Message) -> str:
    return f"message {i} ({message.role})"


def _check_roles_and_ids(messages: list[Message], problems: list[str]) -> None:
    seen: set[str] = set()
    for i, message in enumerate(messages):
        for part in message.parts:
            if isinstance(part, ToolUsePart):
                if message.role != "assistant":
                    problems.append(
                        f"{_where(i, message)}: tool_use {part.id!r} outside an assistant message"
                    )
                if not part.id.strip():
                    problems.append(f"{_where(i, message)}: tool_use {part.name!r} has an empty id")
                elif part.id in seen:
                    problems.append(f"{_where(i, message)}: tool_use id {part.id!r} is not unique")
                seen.add(part.id)
            elif isinstance(part, ToolResultPart) and message.role not in ("tool", "user"):
                problems.append(
                    f"{_where(i, message)}: tool_result {part.tool_use_id!r} outside a tool message"
                )


def _check_pairing(messages: list[Message], problems: list[str]) -> None:
    pending: dict[str, int] = {}  # tool_use id → index of its assistant message, for the open assistant turn
    answered: set[str] = set()
    for i, message in enumerate(messages):
        if message.role == "assistant":
            for use_id, at in pending.items():
                problems.append(
                    f"message {at} (assistant): tool_use {use_id!r} has no tool_result right after it"
                )
            pending = {p.id: i for p in message.tool_uses if p.id.strip()}
            answered = set()
            continue
        for part in message.parts:
            if not isinstance(part, ToolResultPart):
                continue
            if part.tool_use_id in pending:
                answered.add(part.tool_use_id)
                del pending[part.tool_use_id]
            elif part.tool_use_id in answered:
                problems.append(
                    f"{_where(i, message)}: tool_use {part.tool_use_id!r} answered more than once"
                )
            else:
                problems.append(
                    f"{_where(i, message)}: orphan tool_result {part.tool_use_id!r} "
                    "(no tool_use with that id in the assistant message before it)"
                )
        if (
            message.role == "user"
            and any(not isinstance(p, ToolResultPart) for p in message.parts)
            and pending
        ):
            # A new user turn while tool calls are still open: the results did not come "right after".
            for use_id, at in pending.items():
                problems.append(
                    f"message {at} (assistant): tool_use {use_id!r} has no tool_result right after it"
                )
            pending = {}
    for use_id, at in pending.items():
        problems.append(f"message {at} (assistant): tool_use {use_id!r} has no tool_result")


def _check_anthropic(messages: list[Message], thinking: bool, problems: list[str]) -> None:
    seen_other = False
    for i, message in enumerate(messages):
        if message.role != "system":
            seen_other = True
        elif seen_other:
            problems.append(f"{_where(i, message)}: system message after the conversation started")
    if not thinking:
        return
    loop_start = 0
    for i, message in enumerate(messages):
        if message.role == "user" and any(not isinstance(p, ToolResultPart) for p in message.parts):
            loop_start = i + 1
    for i, message in enumerate(messages[loop_start:], start=loop_start):
        if message.role != "assistant" or not message.tool_uses:
            continue
        first = message.parts[0] if message.parts else None
        if not isinstance(first, ThinkingPart):
            problems.append(
                f"{_where(i, message)}: with thinking enabled, a tool_use turn must start with thinking"
            )
        elif not first.redacted and not first.signature:
            problems.append(f"{_where(i, message)}: its thinking block lost its signature")


def transcript_problems(request: ModelRequest, *, provider: str) -> list[str]:
    """Every rule the request breaks, in transcript order (empty when it is fine)."""
    messages = request.messages
    problems: list[str] = []
    if not any(m.role != "system" for m in messages):
        problems.append("the transcript has no user or assistant message")
    _check_roles_and_ids(messages, problems)
    _check_pairing(messages, problems)
    if provider == "anthropic":
        _check_anthropic(messages, request.thinking, problems)
    return problems


def validate_transcript(
    request: ModelRequest, *, provider: str, model: str, run_id: str | None = None
) -> None:
    """Raises TranscriptError naming the run and the model, with every problem found."""
    problems = transcript_problems(request, provider=provider)
    if not problems:
        return
    run = run_id or request.run_id or "(no run)"
    message = f"invalid transcript for run {run} on {provider}:{model}: " + "; ".join(problems)
    raise TranscriptError(message, problems=problems, run_id=run, provider=provider, model=model)
