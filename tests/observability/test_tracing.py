"""Spans from events with the SDK's in-memory exporter; and no opentelemetry import when unset."""

from __future__ import annotations

import subprocess
import sys

import pytest

from agent.observability import make_tracer
from tests.observability.events import T0, tool_run


def test_unset_endpoint_costs_nothing() -> None:
    assert make_tracer(None) is None
    assert make_tracer("") is None
    code = (
        "import sys; from agent.observability import make_tracer; assert make_tracer(None) is None; "
        "print(any(m.startswith('opentelemetry') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


async def test_spans_run_model_and_tool_calls() -> None:
    pytest.importorskip("opentelemetry.sdk")
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import StatusCode

    exporter = InMemorySpanExporter()
    tracer = make_tracer(None, exporter=exporter)
    assert tracer is not None
    for event in tool_run("r1"):
        await tracer(event)
    spans = exporter.get_finished_spans()
    by_name: dict[str, list] = {}  # type: ignore[type-arg]
    for span in spans:
        by_name.setdefault(span.name, []).append(span)
    assert sorted(by_name) == ["agent.run", "model.call", "tool calc", "tool search"]
    (run,) = by_name["agent.run"]
    assert run.parent is None and run.attributes["agent.run_id"] == "r1"
    assert run.attributes["agent.status"] == "completed"
    assert run.start_time == int(T0 * 1e9) and run.end_time == pytest.approx(int((T0 + 1.82) * 1e9), abs=1000)
    assert len(by_name["model.call"]) == 2
    for span in spans:
        if span is not run:
            assert span.parent.span_id == run.context.span_id
            assert span.context.trace_id == run.context.trace_id
    first = min(by_name["model.call"], key=lambda s: s.start_time)
    assert (first.end_time - first.start_time) == pytest.approx(0.25e9, rel=1e-3)
    assert first.attributes["gen_ai.usage.input_tokens"] == 100
    (search,) = by_name["tool search"]
    assert search.status.status_code == StatusCode.ERROR and search.attributes["error.type"] == "timeout"
    assert (search.end_time - search.start_time) == pytest.approx(1.0e9, rel=1e-3)
    assert by_name["tool calc"][0].status.status_code != StatusCode.ERROR
    tracer.shutdown()


def test_otlp_exporter_is_built_for_an_endpoint() -> None:
    pytest.importorskip("opentelemetry.exporter.otlp.proto.http")
    tracer = make_tracer("http://127.0.0.1:9/")
    assert tracer is not None
    processor = tracer.provider._active_span_processor._span_processors[0]
    assert processor.span_exporter._endpoint == "http://127.0.0.1:9/v1/traces"
    tracer.shutdown()


async def test_failed_model_call_and_resumed_run_spans() -> None:
    pytest.importorskip("opentelemetry.sdk")
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import StatusCode

    from tests.observability.events import Seq

    exporter = InMemorySpanExporter()
    tracer = make_tracer(None, exporter=exporter)
    assert tracer is not None
    e = Seq("r9")
    for event in [
        e("run.resumed", 0.0, leaseVersion=2, step=4),
        e("phase.changed", 0.1, **{"from": "executing_tools", "to": "planning"}),
        e("run.failed", 0.6, error={"kind": "model_error", "message": "boom"}),
    ]:
        await tracer(event)
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert set(spans) == {"agent.run", "model.call"}
    assert spans["agent.run"].attributes["agent.resumed"] is True
    assert spans["agent.run"].status.status_code == StatusCode.ERROR
    assert spans["model.call"].attributes["error.type"] == "model_error"
    assert spans["model.call"].parent.span_id == spans["agent.run"].context.span_id
    # A run continued after a suspension starts with no run.* event; shutdown ends what is still open.
    await tracer(e("tool.result", 9.0, toolCallId="x", toolName="deploy", ok=True))
    tracer.shutdown()
    assert [s.name for s in exporter.get_finished_spans()].count("agent.run") == 2
