"""Metrics and spans from a real run through RunManager (real SQLite run log), not hand-made events."""

from __future__ import annotations

from pathlib import Path

from agent.bench.loop import Harness
from agent.observability import RunMetrics, make_tracer


async def test_metrics_and_spans_from_a_real_5x2_run(tmp_path: Path) -> None:
    harness = Harness(tmp_path, turns=5, max_runs=2)
    metrics = RunMetrics(active_runs=lambda: harness.manager.active)
    harness.bus.subscribe(metrics.on_event)
    exporter = None
    if _has_otel():
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        exporter = InMemorySpanExporter()
        tracer = make_tracer(None, exporter=exporter)
        assert tracer is not None
        harness.bus.subscribe(tracer)
    try:
        await harness.one(1)
    finally:
        await harness.aclose()

    def value(name: str, **labels: str) -> float | None:
        return metrics.registry.get_sample_value(name, labels)

    assert value("agent_runs_started_total") == 1
    assert value("agent_runs_finished_total", status="completed") == 1
    assert value("agent_tool_calls_total", tool="lookup", outcome="ok") == 5
    assert value("agent_tool_calls_total", tool="fetch", outcome="ok") == 5
    assert value("agent_tool_call_duration_seconds_count", tool="fetch") == 5
    assert value("agent_model_call_duration_seconds_count", model="bench:5x2") == 6
    assert value("agent_step_duration_seconds_count", phase="executing_tools") == 5
    # BenchModel reports 100 + 20·turn input tokens and 12 output tokens per call.
    assert value("agent_model_tokens_total", model="bench:5x2", direction="input") == sum(
        100 + 20 * t for t in range(6)
    )
    assert value("agent_model_tokens_total", model="bench:5x2", direction="output") == 72
    assert value("agent_active_runs") == 0
    assert metrics.tracked_runs == 0
    if exporter is not None:
        names = [s.name for s in exporter.get_finished_spans()]
        assert names.count("agent.run") == 1
        assert names.count("model.call") == 6
        assert names.count("tool lookup") == names.count("tool fetch") == 5


def _has_otel() -> bool:
    import importlib.util

    return importlib.util.find_spec("opentelemetry.sdk") is not None
