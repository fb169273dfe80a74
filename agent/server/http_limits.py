"""Connection-level limits for `agent serve`: what uvicorn does not bound by itself.

uvicorn (h11) starts no timer until a first response is sent, and its keep-alive timer stops at the first
byte of a next request, so a client that sends headers a byte at a time holds a connection (and a file
descriptor) for ever; a thousand of them starve /health. `GuardedH11Protocol` is uvicorn's own h11 protocol
with two additions: every connection must deliver complete request headers within HTTP_HEADER_TIMEOUT_S
(armed on connect and again after each response), and connections beyond HTTP_MAX_CONNECTIONS are closed
on arrival (uvicorn's `limit_concurrency`, set to the same number, already answers 503 at the limit; this is
the hard stop a little past it, so descriptors stay bounded). Bodies are bounded in the app (`_read_body`: HTTP_BODY_TIMEOUT_S for the whole body, 408).
h11's incomplete-event cap (16 KiB) bounds what a client can make the server buffer.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

logger = logging.getLogger("agent.server.http")


HARD_LIMIT_MARGIN = 64
"""Connections past HTTP_MAX_CONNECTIONS that still get a 503 answer before new ones are dropped unanswered."""


class GuardedH11Protocol(H11Protocol):
    header_timeout_s: float = 10.0
    max_connections: int = 1000

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_timer: asyncio.TimerHandle | None = None
        if len(self.connections) > self.max_connections + HARD_LIMIT_MARGIN:
            logger.warning(
                "connection refused: %d open, HTTP_MAX_CONNECTIONS=%d",
                len(self.connections) - 1,
                self.max_connections,
            )
            transport.abort()
            return
        self._arm_header_timer()

    def _arm_header_timer(self) -> None:
        self._disarm_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._header_timeout)

    def _disarm_header_timer(self) -> None:
        timer = getattr(self, "_header_timer", None)
        if timer is not None:
            timer.cancel()
            self._header_timer = None

    def _header_timeout(self) -> None:
        self._header_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            logger.info(
                "closing a connection that sent no complete request headers in %.0f s", self.header_timeout_s
            )
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:  # the request line and headers are in
            self._disarm_header_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_header_timer()  # the next request's headers are bounded as the first one's were

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)


def guarded_protocol(*, header_timeout_s: float, max_connections: int) -> type[GuardedH11Protocol]:
    """The protocol class with this server's limits (uvicorn instantiates the class it is given)."""
    return type(
        "GuardedH11Protocol",
        (GuardedH11Protocol,),
        {"header_timeout_s": header_timeout_s, "max_connections": max_connections},
    )


def uvicorn_limits(*, header_timeout_s: float, max_connections: int, keep_alive_s: float) -> dict[str, Any]:
    """Keyword arguments for uvicorn.run / uvicorn.Config."""
    return {
        "http": guarded_protocol(header_timeout_s=header_timeout_s, max_connections=max_connections),
        "timeout_keep_alive": max(1, int(keep_alive_s)),
        "limit_concurrency": max_connections,
        "h11_max_incomplete_event_size": 16 * 1024,
    }
