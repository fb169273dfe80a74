"""In-process hook bus: subscribers see every committed event of every run, in order."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from agent.events.types import Event

logger = logging.getLogger(__name__)

Subscriber = Callable[[Event], Awaitable[None] | None]


class HookBus:
    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        self._subscribers.append(subscriber)
        return lambda: self._subscribers.remove(subscriber)

    async def publish(self, events: list[Event]) -> None:
        """Delivers in order; a failing subscriber is logged and never breaks the run."""
        for event in events:
            for subscriber in list(self._subscribers):
                try:
                    result = subscriber(event)
                    if result is not None:
                        await result
                except Exception:
                    logger.exception("hook subscriber failed on %s", event.type)
