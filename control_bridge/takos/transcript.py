"""This run's transcript → the `messages` of `complete-run`, within every rule the Worker checks.

Only `assistant` and `tool` messages, after the run's user message; each tool call answered before the next
assistant message and none left open (open ones are closed with a failure note, as Takos's container does);
at most 16 calls per assistant message (larger batches are split into consecutive rounds), unique ids of at
most 256 characters, object arguments, content ≤ 512 KiB, ≤ 256 messages and ≤ 8 MiB in all (the oldest
rounds go first).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from control_bridge import contract as c
from control_bridge.takos.events import _fits, preview

MAX_MESSAGES = 256
MAX_CALLS = 16
MAX_ID = 256
MAX_CONTENT_BYTES = 512 * 1024
MAX_ARGUMENT_BYTES = 256 * 1024
MAX_TOTAL_BYTES = 8 * 1024 * 1024 - 64 * 1024
UNANSWERED = "Tool execution failed before a result was recorded."

Round = list[dict[str, Any]]


def _content(text: str) -> str:
    return preview(text, MAX_CONTENT_BYTES) if len(text) > MAX_CONTENT_BYTES // 4 else text


def _arguments(value: Any) -> dict[str, Any]:
    if isinstance(value, dict) and _fits(value):
        if len(json.dumps(value, default=str).encode()) <= MAX_ARGUMENT_BYTES:
            return value
    return {"_truncated": preview(value, 4096)}


def _ident(value: str, seen: set[str]) -> str:
    ident = value if 0 < len(value) <= MAX_ID else "call-" + hashlib.sha256(value.encode()).hexdigest()[:40]
    base, n = ident, 1
    while ident in seen:
        n += 1
        ident = f"{base[: MAX_ID - 8]}~{n}"
    seen.add(ident)
    return ident


def _rounds(messages: list[c.HistoryMessage]) -> list[Round]:
    """Groups the run's messages into rounds: one assistant message and the results that answer it."""
    last_user = max((i for i, m in enumerate(messages) if m.role == "user"), default=-1)
    seen: set[str] = set()
    rounds: list[Round] = []
    head: dict[str, Any] | None = None
    renamed: dict[str, str] = {}
    calls: list[dict[str, Any]] = []
    results: dict[str, str] = {}
    for message in [*messages[last_user + 1 :], None]:
        if message is None or message.role == "assistant":
            if head is not None:
                rounds.extend(_split(head, calls, results))
            if message is None:
                break
            renamed, calls, results = {}, [], {}
            for call in message.tool_calls:
                new = renamed[call.id] = _ident(call.id, seen)
                calls.append({"id": new, "name": call.name[:MAX_ID], "arguments": _arguments(call.arguments)})
            head = {"role": "assistant", "content": _content(message.content)}
        elif message.role == "tool" and head is not None and message.tool_call_id in renamed:
            results[renamed[message.tool_call_id]] = _content(message.content)
    return rounds


def _split(head: dict[str, Any], calls: list[dict[str, Any]], results: dict[str, str]) -> list[Round]:
    """One assistant message with its answers; more than 16 calls become several consecutive rounds."""
    content = head["content"]
    if not calls:
        return [[{"role": "assistant", "content": content}]]
    out: list[Round] = []
    for start in range(0, len(calls), MAX_CALLS):
        chunk = calls[start : start + MAX_CALLS]
        assistant = {"role": "assistant", "content": content if start == 0 else "", "tool_calls": chunk}
        answers = [
            {"role": "tool", "content": results.get(call["id"], UNANSWERED), "tool_call_id": call["id"]}
            for call in chunk
        ]
        out.append([assistant, *answers])
    return out


def _size(round_: Round) -> int:
    return len(json.dumps(round_, ensure_ascii=False, default=str).encode()) + 32 * len(round_)


def complete_run_messages(
    transcript: list[c.HistoryMessage], final_note: str | None = None
) -> list[dict[str, Any]]:
    """The Worker-valid message list for `transcript` (the contract's messages), plus `final_note` as a last
    assistant message when the run did not end on an answer (a failure)."""
    rounds = _rounds(transcript)
    if final_note is not None:
        ends_on_answer = (
            bool(rounds) and rounds[-1][-1]["role"] == "assistant" and "tool_calls" not in rounds[-1][-1]
        )
        if not ends_on_answer or not rounds[-1][-1]["content"].strip():
            rounds.append([{"role": "assistant", "content": _content(final_note)}])
    total = sum(_size(r) for r in rounds)
    count = sum(len(r) for r in rounds)
    while rounds and (count > MAX_MESSAGES or total > MAX_TOTAL_BYTES):
        dropped = rounds.pop(0)  # the oldest round goes first; the answer stays
        count -= len(dropped)
        total -= _size(dropped)
    return [m for r in rounds for m in r]
