"""Prometheus metrics built from run events (a hook-bus subscriber), on a registry of their own.

Latencies come from the events' own timestamps, so the loop pays nothing beyond the bus delivery: a model
call is `assistant.message` minus the `phase.changed` that entered planning/synthesizing, a step is the time
spent in a phase, a tool call is `tool.scheduled` → `tool.result` by toolCallId. Per-run bookkeeping lives
only until the run's terminal event, and label values that come from outside (tool and model names) are
capped so a misbehaving catalog cannot blow up the series count.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from agent.events.types import TERMINAL_TYPES, Event

STEP_PHASES = frozenset({"planning", "synthesizing", "executing_tools"})
MODEL_PHASES = frozenset({"planning", "synthesizing"})
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
RUN_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
MAX_LABEL_VALUES = 200
MAX_TRACKED_RUNS = 10_000
OTHER = "other"
TOKEN_FIELDS = (("inputTokens", "input"), ("outputTokens", "output"), ("cachedInputTokens", "cached_input"))


@dataclass
class _RunTimers:
    phase: str | None = None
    phase_since: float | None = None
    started_at: float | None = None
    scheduled: dict[str, float] = field(default_factory=dict)


class _BoundedLabel:
    """Passes through the first `limit` distinct values and maps the rest to "other"."""

    def __init__(self, limit: int = MAX_LABEL_VALUES) -> None:
        self._seen: set[str] = set()
        self._limit = limit

    def __call__(self, value: Any) -> str:
        text = str(value) if value not in (None, "") else "unknown"
        if text in self._seen:
            return text
        if len(self._seen) >= self._limit:
            return OTHER
        self._seen.add(text)
        return text


class RunMetrics:
    """Counters, gauges and histograms for `GET /metrics`, fed by `on_event` from the hook bus.

    Args:
        active_runs: a callable giving the number of active runs (e.g. `lambda: manager.active`); without it
            the gauge counts runs seen running and not yet terminal or suspended.
    """

    def __init__(self, active_runs: Callable[[], int] | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.runs_started = Counter("agent_runs_started", "Runs started in this process.", registry=r)
        self.runs_resumed = Counter(
            "agent_runs_resumed", "Runs resumed from a checkpoint or after a pause.", registry=r
        )
        self.runs_finished = Counter(
            "agent_runs_finished", "Runs that reached a terminal status.", ["status"], registry=r
        )
        self.active = Gauge("agent_active_runs", "Runs currently active in this process.", registry=r)
        self.run_seconds = Histogram(
            "agent_run_duration_seconds",
            "Wall time from run.started to the terminal event (runs started in this process).",
            ["status"],
            buckets=RUN_BUCKETS,
            registry=r,
        )
        self.step_seconds = Histogram(
            "agent_step_duration_seconds",
            "Time spent in one loop phase (planning, executing_tools, synthesizing), checkpoint included.",
            ["phase"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.model_seconds = Histogram(
            "agent_model_call_duration_seconds",
            "Model call latency: phase entered (planning/synthesizing) to assistant.message.",
            ["model"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.tool_seconds = Histogram(
            "agent_tool_call_duration_seconds",
            "Tool call latency: tool.scheduled to tool.result (waits for a person excluded).",
            ["tool"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.tool_calls = Counter(
            "agent_tool_calls",
            "Tool calls by outcome (ok, denied, or the failure kind).",
            ["tool", "outcome"],
            registry=r,
        )
        self.tokens = Counter(
            "agent_model_tokens",
            "Model tokens by direction (input, output, cached_input).",
            ["model", "direction"],
            registry=r,
        )
        self._tool_label = _BoundedLabel()
        self._model_label = _BoundedLabel()
        self._runs: OrderedDict[str, _RunTimers] = OrderedDict()
        self._models: dict[str, str] = {}
        self._active_ids: set[str] = set()
        if active_runs is not None:
            self.active.set_function(lambda: float(active_runs()))
        else:
            self.active.set_function(lambda: float(len(self._active_ids)))

    # --- feeding ------------------------------------------------------------------------------------------
    async def on_event(self, event: Event) -> None:
        self.observe(event)

    def observe(self, event: Event) -> None:
        """Synchronous core of `on_event` (the bus accepts either)."""
        run = self._timers(event.run_id)
        kind = event.type
        data = event.data
        if kind == "run.started":
            self.runs_started.inc()
            run.started_at = event.ts
            if data.get("model"):
                self._models[event.run_id] = str(data["model"])
        elif kind == "run.resumed":
            self.runs_resumed.inc()
        elif kind == "phase.changed":
            self._phase(run, data.get("to"), event.ts)
        elif kind == "assistant.message":
            if run.phase in MODEL_PHASES and run.phase_since is not None:
                model = self._model_label(self._models.get(event.run_id))
                self.model_seconds.labels(model).observe(max(0.0, event.ts - run.phase_since))
        elif kind == "usage":
            self._usage(event)
        elif kind == "tool.scheduled":
            if (call_id := data.get("toolCallId")) is not None:
                run.scheduled[str(call_id)] = event.ts
        elif kind in ("await.confirmation", "await.clarification"):
            run.scheduled.pop(str(data.get("toolCallId")), None)  # a person's wait is not tool latency
        elif kind == "tool.result":
            self._tool_result(run, event)
        if kind in TERMINAL_TYPES:
            status = kind.removeprefix("run.")
            self.runs_finished.labels(status).inc()
            if run.started_at is not None:
                self.run_seconds.labels(status).observe(max(0.0, event.ts - run.started_at))
            self._drop(event.run_id)
        elif kind == "run.suspended":
            self._active_ids.discard(event.run_id)
        else:
            self._active_ids.add(event.run_id)

    def _timers(self, run_id: str) -> _RunTimers:
        run = self._runs.get(run_id)
        if run is None:
            run = self._runs[run_id] = _RunTimers()
            while len(self._runs) > MAX_TRACKED_RUNS:  # runs that never finish here (moved, abandoned)
                old, _ = self._runs.popitem(last=False)
                self._models.pop(old, None)
                self._active_ids.discard(old)
        return run

    def _drop(self, run_id: str) -> None:
        self._runs.pop(run_id, None)
        self._models.pop(run_id, None)
        self._active_ids.discard(run_id)

    def _phase(self, run: _RunTimers, to: Any, ts: float) -> None:
        if run.phase in STEP_PHASES and run.phase_since is not None:
            self.step_seconds.labels(run.phase).observe(max(0.0, ts - run.phase_since))
        run.phase = str(to) if to is not None else None
        run.phase_since = ts

    def _usage(self, event: Event) -> None:
        data = event.data
        if data.get("model"):
            self._models[event.run_id] = str(data["model"])  # the client's own name wins over the spec
        model = self._model_label(self._models.get(event.run_id))
        for key, direction in TOKEN_FIELDS:
            value = data.get(key)
            if isinstance(value, int | float) and value > 0:
                self.tokens.labels(model, direction).inc(value)

    def _tool_result(self, run: _RunTimers, event: Event) -> None:
        data = event.data
        tool = self._tool_label(data.get("toolName"))
        started = run.scheduled.pop(str(data.get("toolCallId")), None)
        if started is not None:
            self.tool_seconds.labels(tool).observe(max(0.0, event.ts - started))
        if data.get("ok"):
            outcome = "denied" if data.get("denied") else "ok"
        else:
            error = data.get("error") or {}
            outcome = str(error.get("kind") or "internal") if isinstance(error, dict) else "internal"
        self.tool_calls.labels(tool, outcome).inc()

    # --- reading ------------------------------------------------------------------------------------------
    def render(self) -> tuple[bytes, str]:
        """The Prometheus text exposition and its content type, for `GET /metrics`."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    @property
    def tracked_runs(self) -> int:
        """Runs with live bookkeeping (for tests: it must fall back to zero when runs end)."""
        return len(self._runs)
