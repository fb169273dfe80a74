"""OpenTelemetry spans (run → model call / tool call) rebuilt from run events, only when asked for.

`make_tracer(None)` returns None without importing opentelemetry, so a server without
OTEL_EXPORTER_OTLP_ENDPOINT pays nothing. Spans take their start and end times from the events, so the
tracer is a plain hook-bus subscriber and the loop never waits on it. A run span covers one stretch of
execution in this process (start or resume → terminal or suspension); every span carries `agent.run_id`.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from agent.events.types import TERMINAL_TYPES, Event

SERVICE_NAME = "agent-container"
MODEL_PHASES = frozenset({"planning", "synthesizing"})
MAX_OPEN_RUNS = 10_000


def _ns(ts: float) -> int:
    return int(ts * 1_000_000_000)


@dataclass
class _OpenRun:
    span: Any
    context: Any
    model_since: float | None = None
    model_attrs: dict[str, Any] = field(default_factory=dict)
    tools: dict[str, Any] = field(default_factory=dict)
    model: str | None = None


class RunTracer:
    """A hook-bus subscriber turning events into spans. Call `shutdown()` at exit to flush the exporter."""

    def __init__(self, provider: Any) -> None:
        from opentelemetry import trace
        from opentelemetry.trace import Status, StatusCode

        self._trace = trace
        self._status = Status
        self._code = StatusCode
        self.provider = provider
        self.tracer = provider.get_tracer("agent.runtime")
        self._runs: OrderedDict[str, _OpenRun] = OrderedDict()

    async def __call__(self, event: Event) -> None:
        self.observe(event)

    on_event = __call__

    def observe(self, event: Event) -> None:
        kind = event.type
        data = event.data
        run = self._runs.get(event.run_id)
        if run is None:
            if kind in TERMINAL_TYPES or kind == "run.suspended":
                return
            run = self._open(event)
        if kind == "run.started" and data.get("model"):
            run.model = str(data["model"])
            run.span.set_attribute("gen_ai.request.model", run.model)
        elif kind == "phase.changed":
            # A model call may start here; its span is made when the answer (or the end) shows it happened.
            entering = data.get("to") in MODEL_PHASES
            run.model_since = event.ts if entering else None
            run.model_attrs = {"agent.phase": str(data.get("to"))} if entering else {}
        elif kind == "usage" and run.model_since is not None:
            for key, attr in (("inputTokens", "input_tokens"), ("outputTokens", "output_tokens")):
                if isinstance(data.get(key), int):
                    run.model_attrs[f"gen_ai.usage.{attr}"] = data[key]
        elif kind == "assistant.message" and run.model_since is not None:
            run.model_attrs["agent.turn"] = int(data.get("turn", 0))
            run.model_attrs["agent.tool_calls"] = len(data.get("toolCalls") or [])
            self._model_span(run, event, error=None)
        elif kind == "tool.scheduled":
            name = str(data.get("toolName"))
            attrs = {"gen_ai.tool.name": name, "gen_ai.tool.call.id": str(data.get("toolCallId"))}
            run.tools[str(data.get("toolCallId"))] = self._child(run, f"tool {name}", event, attrs)
        elif kind == "tool.result":
            self._end_tool(run, event)
        if kind in TERMINAL_TYPES or kind == "run.suspended":
            self._close(event)

    def _open(self, event: Event) -> _OpenRun:
        attrs = {"agent.run_id": event.run_id, "agent.resumed": event.type != "run.started"}
        for key, attr in (("sessionId", "agent.session_id"), ("agentType", "agent.type")):
            if event.data.get(key):
                attrs[attr] = str(event.data[key])
        span = self.tracer.start_span("agent.run", start_time=_ns(event.ts), attributes=attrs)
        run = _OpenRun(span=span, context=self._trace.set_span_in_context(span))
        self._runs[event.run_id] = run
        while len(self._runs) > MAX_OPEN_RUNS:
            _, stale = self._runs.popitem(last=False)
            stale.span.end()
        return run

    def _child(self, run: _OpenRun, name: str, event: Event, attrs: dict[str, Any]) -> Any:
        attrs = {"agent.run_id": event.run_id, **attrs}
        return self.tracer.start_span(name, context=run.context, start_time=_ns(event.ts), attributes=attrs)

    def _model_span(self, run: _OpenRun, event: Event, error: str | None) -> None:
        assert run.model_since is not None
        attrs = {"agent.run_id": event.run_id, **run.model_attrs}
        if run.model:
            attrs["gen_ai.request.model"] = run.model
        span = self.tracer.start_span(
            "model.call", context=run.context, start_time=_ns(run.model_since), attributes=attrs
        )
        if error is not None:
            span.set_attribute("error.type", error)
            span.set_status(self._status(self._code.ERROR, error))
        span.end(end_time=_ns(event.ts))
        run.model_since = None
        run.model_attrs = {}

    def _end_tool(self, run: _OpenRun, event: Event) -> None:
        span = run.tools.pop(str(event.data.get("toolCallId")), None)
        if span is None:
            return
        if not event.data.get("ok"):
            error = event.data.get("error") or {}
            kind = str(error.get("kind", "internal")) if isinstance(error, dict) else "internal"
            span.set_attribute("error.type", kind)
            span.set_status(self._status(self._code.ERROR, kind))
        span.end(end_time=_ns(event.ts))

    def _close(self, event: Event) -> None:
        run = self._runs.pop(event.run_id)
        if run.model_since is not None and event.type in ("run.failed", "run.canceled"):
            error = event.data.get("error") or {}
            kind = str(error.get("kind", "")) if isinstance(error, dict) else ""
            self._model_span(run, event, error=kind or event.type.removeprefix("run."))
        for span in run.tools.values():  # waiting for a person, or cut off by the end of the run
            span.end(end_time=_ns(event.ts))
        status = event.type.removeprefix("run.")
        run.span.set_attribute("agent.status", status)
        if event.type == "run.failed":
            error = event.data.get("error") or {}
            kind = str(error.get("kind", "internal")) if isinstance(error, dict) else "internal"
            run.span.set_status(self._status(self._code.ERROR, kind))
        run.span.end(end_time=_ns(event.ts))

    def shutdown(self) -> None:
        """Ends spans still open (runs moving elsewhere) and flushes the exporter."""
        for run in self._runs.values():
            run.span.end()
        self._runs.clear()
        self.provider.shutdown()


def make_tracer(endpoint: str | None, *, exporter: Any = None) -> RunTracer | None:
    """A tracer exporting OTLP/HTTP to `endpoint` (the OTEL_EXPORTER_OTLP_ENDPOINT base URL), or None.

    `exporter` replaces the OTLP exporter (tests pass the SDK's InMemorySpanExporter; spans are then
    exported synchronously). With neither, nothing is imported and None is returned.
    """
    if not endpoint and exporter is None:
        return None
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": SERVICE_NAME}))
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        assert endpoint is not None
        url = endpoint.rstrip("/")
        if not url.endswith("/v1/traces"):
            url += "/v1/traces"
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=url)))
    return RunTracer(provider)
