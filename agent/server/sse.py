"""Server-Sent Events from the run log, resumable with Last-Event-ID, served with sse-starlette.

sse-starlette (the SSE response the official A2A and MCP SDKs use too) does the framing, the keepalive
comments, client-disconnect detection and a send timeout, so a client that stops reading is dropped instead
of holding the stream open. Every frame is an event envelope; the stream of a finished run ends with a
`stream.end` frame whose `id:` is the last sequence, sent at once also to a client that resumes at or past
the end.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from pydantic_core import to_json
from sse_starlette import EventSourceResponse, ServerSentEvent

from agent.events.catalog import StreamEnd
from agent.events.log import RunLog
from agent.events.types import Event

KEEPALIVE_S = 15.0
SEND_TIMEOUT_S = 30.0
"""A client that cannot take one frame in this long is disconnected (its events stay in the log)."""


def frame(event: Event) -> ServerSentEvent:
    return ServerSentEvent(to_json(event.wire()).decode(), id=str(event.sequence), event=event.type)


def end_frame(run_id: str, last: int) -> ServerSentEvent:
    end = Event(run_id, last, "stream.end", StreamEnd.TYPE, StreamEnd(last_sequence=last).data(), time.time())
    return frame(end)


async def stream_events(
    log: RunLog, run_id: str, after: int, types: frozenset[str] | None
) -> AsyncIterator[ServerSentEvent]:
    """Yields committed events after `after`, waits for more, and ends after the terminal event."""
    terminal = log.terminal_event(run_id)
    if terminal is not None and terminal.sequence <= after:
        yield end_frame(run_id, terminal.sequence)
        return
    while True:
        waiter = log.waiter(run_id)
        events = log.read(run_id, after=after, limit=500, types=types)
        for event in events:
            yield frame(event)
            after = event.sequence
            if event.terminal:
                yield end_frame(run_id, after)
                return
        if events:
            continue
        await waiter.wait()


def event_stream(log: RunLog, run_id: str, after: int, types: frozenset[str] | None) -> EventSourceResponse:
    return EventSourceResponse(
        stream_events(log, run_id, after, types),
        ping=KEEPALIVE_S,
        send_timeout=SEND_TIMEOUT_S,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
