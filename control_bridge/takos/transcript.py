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

from control_bridge.takos.events import _fits, preview

MAX_MESSAGES = 256
MAX_CALLS = 16
MAX_ID = 256
MAX_CONTENT_BYTES = 512 * 1024
MAX_ARGUMENT_BYTES = 256 * 1024
MAX_TOTAL_BYTES = 8 * 1024 * 1024 - 64 * 1024
UNANSWERED = "Tool execution failed before a result was recorded."

Round = list[dict[str, Any]]


def _text(parts: list[dict[str, Any]]) -> str:
    return "".join(str(p.get("text", "")) for p in parts if p.get("kind") == "text")


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


def _rounds(messages: list[dict[str, Any]]) -> list[Round]:
    """Groups the run's messages into rounds: one assistant message and the results that answer it."""
    last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
    seen: set[str] = set()
    rounds: list[Round] = []
    current: Round | None = None
    results: dict[str, str] = {}
    calls: list[dict[str, Any]] = []

    def close() -> None:
        if current is None:
            return
        rounds.extend(_split(current[0], calls, results))

    for message in messages[last_user + 1 :]:
        role = message.get("role")
        parts = message.get("parts") or []
        if role == "assistant":
            close()
            renamed: dict[str, str] = {}
            calls = []
            for p in parts:
                if p.get("kind") == "tool_use":
                    new = _ident(str(p.get("id", "")), seen)
                    renamed[str(p.get("id", ""))] = new
                    calls.append(
                        {
                            "id": new,
                            "name": str(p.get("name", ""))[:MAX_ID],
                            "arguments": _arguments(p.get("arguments")),
                        }
                    )
            current = [{"role": "assistant", "content": _content(_text(parts)), "_renamed": renamed}]
            results = {}
        elif role == "tool" and current is not None:
            renamed = current[0]["_renamed"]
            for p in parts:
                if p.get("kind") == "tool_result" and str(p.get("tool_use_id")) in renamed:
                    results[renamed[str(p.get("tool_use_id"))]] = _content(str(p.get("content", "")))
    close()
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
    transcript: list[dict[str, Any]], final_note: str | None = None
) -> list[dict[str, Any]]:
    """The Worker-valid message list for `transcript` (our Message JSON), plus `final_note` as a last
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
