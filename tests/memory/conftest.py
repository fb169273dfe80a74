from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from agent.memoryhost import RunEvents
from memory import HashEmbedder, MemoryIngestor, MemoryService, RunEpisode


@dataclass(frozen=True)
class FakeEvent:
    """The attributes the hook bus delivers (agent.events.Event has the same ones)."""

    run_id: str
    sequence: int
    type: str
    data: dict[str, Any] = field(default_factory=dict)
    ts: float = 1_700_000_000.0


_EVENTS: dict[int, RunEvents] = {}


def feed(ingestor: MemoryIngestor, space_id: str, event: Any) -> None:
    """What the server does with a run event: agent/memoryhost.py maps it, memory gets a typed episode."""
    fields = _EVENTS.setdefault(id(ingestor), RunEvents()).episode(space_id, event)
    if fields is not None:
        ingestor.submit(RunEpisode.model_validate(fields))


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[MemoryService]:
    svc = MemoryService(tmp_path, HashEmbedder())
    yield svc
    await svc.aclose()


@pytest.fixture
async def ingestor(service: MemoryService) -> AsyncIterator[MemoryIngestor]:
    ing = MemoryIngestor(service)
    await ing.start()
    yield ing
    await ing.aclose()


def run_events(
    run_id: str = "run-1", session: str = "sess-1", t0: float = 1_700_000_000.0
) -> list[FakeEvent]:
    """A small but complete run: user input, a tool call and its result, an answer, completion."""
    data: list[tuple[str, dict[str, Any]]] = [
        (
            "run.started",
            {
                "runId": run_id,
                "sessionId": session,
                "threadId": "thread-1",
                "spaceId": "sp",
                "agentType": "chat",
                "input": "Deploy the billing service to staging, see docs/deploy.md",
                "labels": {},
                "model": "scripted",
            },
        ),
        ("phase.changed", {"from": "prompted", "to": "planning"}),
        ("assistant.delta", {"turn": 1, "text": "Deploy"}),
        (
            "assistant.message",
            {
                "turn": 1,
                "text": "I will deploy it now.",
                "toolCalls": [{"id": "call-1", "name": "deploy", "arguments": {}}],
            },
        ),
        ("tool.scheduled", {"turn": 1, "toolCallId": "call-1", "toolName": "deploy", "arguments": {}}),
        (
            "tool.result",
            {
                "turn": 1,
                "toolCallId": "call-1",
                "toolName": "deploy",
                "ok": True,
                "output": "billing deployed to https://staging.example.com/billing",
                "error": None,
            },
        ),
        ("usage", {"turn": 1, "inputTokens": 10, "outputTokens": 5, "cachedInputTokens": 0, "model": "m"}),
        ("assistant.message", {"turn": 2, "text": "Billing is live on staging.", "toolCalls": []}),
        ("run.completed", {"output": "Billing is live on staging.", "usage": {}}),
    ]
    return [FakeEvent(run_id, i + 1, t, d, t0 + i) for i, (t, d) in enumerate(data)]


@dataclass(frozen=True)
class Ctx:
    space_id: str = "sp"
    run_id: str = "run-x"
    session_id: str = "sess-x"
    turn_id: int = 1
    tool_call_id: str = "call-x"
    thread_id: str | None = None
    locale: str | None = None
