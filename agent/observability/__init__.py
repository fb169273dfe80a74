"""Metrics and traces built from run events; the server subscribes them on the hook bus."""

from __future__ import annotations

from agent.observability.metrics import RunMetrics
from agent.observability.tracing import RunTracer, make_tracer

__all__ = ["RunMetrics", "RunTracer", "make_tracer"]
