"""Server-Sent Events from the run log, resumable with Last-Event-ID."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from fastapi import Request

from agent.events.log import RunLog
from agent.events.types import TERMINAL_TYPES, Event

KEEPALIVE_S = 15.0


def format_event(event: Event) -> str:
    data = json.dumps(event.wire(), ensure_ascii=False, default=str)
    return f"id: {event.sequence}\nevent: {event.type}\ndata: {data}\n\n"


async def stream_events(
    request: Request, log: RunLog, run_id: str, after: int, types: frozenset[str] | None
) -> AsyncIterator[str]:
    """Yields committed events after `after`, waits for more, and ends after the terminal event."""
    while True:
        if await request.is_disconnected():
            return
        waiter = log.waiter(run_id)
        events = log.read(run_id, after=after, limit=500, types=types)
        for event in events:
            yield format_event(event)
            after = event.sequence
            if event.type in TERMINAL_TYPES:
                yield f"event: stream.end\ndata: {json.dumps({'runId': run_id, 'lastSequence': after})}\n\n"
                return
        if events:
            continue
        try:
            await asyncio.wait_for(waiter.wait(), KEEPALIVE_S)
        except TimeoutError:
            yield ": keepalive\n\n"
