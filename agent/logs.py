"""Structured JSON logs carrying runId/sessionId when known; tokens and keys never reach a record."""

from __future__ import annotations

import json
import logging
import sys
import time
from contextvars import ContextVar

run_context: ContextVar[dict[str, str]] = ContextVar("run_context", default={})  # noqa: B039


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": round(time.time(), 3),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            **run_context.get(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class RateLimit(logging.Filter):
    """At most `per_second` lines of one kind (logger + message template) per second, with a burst of as many;
    the rest are counted and the count is added to the next line of that kind that passes. So a client that
    provokes a warning per request (or an accept loop out of descriptors) cannot fill the disk with logs."""

    MAX_KINDS = 2048

    def __init__(self, per_second: float) -> None:
        super().__init__()
        self.rate = per_second
        self._buckets: dict[tuple[str, object], list[float]] = {}
        """kind → [tokens, last refill, suppressed count]"""

    def filter(self, record: logging.LogRecord) -> bool:
        now = time.monotonic()
        key = (record.name, record.msg)
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.MAX_KINDS:
                self._buckets.clear()
            bucket = self._buckets[key] = [self.rate, now, 0]
        bucket[0] = min(self.rate, bucket[0] + (now - bucket[1]) * self.rate)
        bucket[1] = now
        if bucket[0] < 1:
            bucket[2] += 1
            return False
        bucket[0] -= 1
        if bucket[2]:
            record.msg = f"{record.getMessage()} ({int(bucket[2])} similar lines suppressed)"
            record.args = None
            bucket[2] = 0
        return True


def configure_logging(level: str, max_per_s: float = 20.0) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RateLimit(max_per_s))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
