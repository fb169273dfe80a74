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


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
