"""RunMetrics from a synthetic event sequence: exact counter and histogram values, valid exposition text."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from agent.events.bus import HookBus
from agent.observability import RunMetrics
from tests.observability.events import Seq, tool_run


async def feed(metrics: RunMetrics, events: list) -> None:  # type: ignore[type-arg]
    for event in events:
        await metrics.on_event(event)


def value(m: RunMetrics, name: str, **labels: str) -> float | None:
    return m.registry.get_sample_value(name, labels)


async def test_counters_and_histograms_have_the_right_values() -> None:
    m = RunMetrics()
    await feed(m, tool_run("r1"))
    await feed(m, tool_run("r2", end="run.failed"))
    assert value(m, "agent_runs_started_total") == 2
    assert value(m, "agent_runs_finished_total", status="completed") == 1
    assert value(m, "agent_runs_finished_total", status="failed") == 1
    assert value(m, "agent_tool_calls_total", tool="calc", outcome="ok") == 2
    assert value(m, "agent_tool_calls_total", tool="search", outcome="timeout") == 2
    assert value(m, "agent_model_tokens_total", model="scripted:demo", direction="input") == 500
    assert value(m, "agent_model_tokens_total", model="scripted:demo", direction="output") == 100
    assert value(m, "agent_model_tokens_total", model="scripted:demo", direction="cached_input") == 100
    # Model call: planning entered at 0.01 → message at 0.26 (0.25 s), and 1.3 → 1.8 (0.5 s); per run.
    assert value(m, "agent_model_call_duration_seconds_count", model="scripted:demo") == 4
    assert value(m, "agent_model_call_duration_seconds_sum", model="scripted:demo") == pytest.approx(1.5)
    assert value(m, "agent_model_call_duration_seconds_bucket", model="scripted:demo", le="0.25") == 2
    # Tool latency: scheduled 0.26 → result 0.34 (calc) and 1.26 (search).
    assert value(m, "agent_tool_call_duration_seconds_sum", tool="calc") == pytest.approx(0.16)
    assert value(m, "agent_tool_call_duration_seconds_sum", tool="search") == pytest.approx(2.0)
    assert value(m, "agent_tool_call_duration_seconds_bucket", tool="search", le="0.5") == 0
    # Steps: planning 0.29 + 0.5, executing_tools 1.0, synthesizing 0.02 (per run).
    assert value(m, "agent_step_duration_seconds_sum", phase="executing_tools") == pytest.approx(2.0)
    assert value(m, "agent_step_duration_seconds_count", phase="planning") == 4
    assert value(m, "agent_step_duration_seconds_sum", phase="planning") == pytest.approx(1.58)
    assert value(m, "agent_step_duration_seconds_count", phase="synthesizing") == 2
    assert value(m, "agent_run_duration_seconds_sum", status="failed") == pytest.approx(1.82)
    assert m.tracked_runs == 0, "per-run timers must be dropped at the terminal event"


async def test_active_gauge_from_events_and_from_callable() -> None:
    m = RunMetrics()
    events = tool_run("r1")
    await feed(m, events[:5])
    assert value(m, "agent_active_runs") == 1
    await feed(m, events[5:])
    assert value(m, "agent_active_runs") == 0

    m2 = RunMetrics(active_runs=lambda: 7)
    assert value(m2, "agent_active_runs") == 7


async def test_suspension_and_denial_do_not_count_as_tool_latency() -> None:
    m = RunMetrics()
    e = Seq("r3")
    await feed(
        m,
        [
            e("run.started", 0, runId="r3", model="m"),
            e("tool.scheduled", 1, toolCallId="c", toolName="deploy"),
            e("await.confirmation", 1, id="await-c", toolCallId="c", toolName="deploy"),
            e("run.suspended", 1, pending=["await-c"]),
        ],
    )
    assert value(m, "agent_active_runs") == 0
    await feed(
        m, [e("tool.result", 500, toolCallId="c", toolName="deploy", ok=True, output="no", denied=True)]
    )
    assert value(m, "agent_tool_calls_total", tool="deploy", outcome="denied") == 1
    assert not value(m, "agent_tool_call_duration_seconds_count", tool="deploy")


async def test_label_values_from_outside_are_capped() -> None:
    m = RunMetrics()
    e = Seq("r4")
    await feed(m, [e("tool.result", 0, toolCallId=f"x{i}", toolName=f"tool{i}", ok=True) for i in range(250)])
    families = {f.name: f for f in text_string_to_metric_families(m.render()[0].decode())}
    tools = {s.labels["tool"] for s in families["agent_tool_calls"].samples if s.name.endswith("_total")}
    assert len(tools) == 201 and "other" in tools
    assert value(m, "agent_tool_calls_total", tool="other", outcome="ok") == 50


async def test_render_is_valid_prometheus_text_and_works_on_the_bus() -> None:
    m = RunMetrics(active_runs=lambda: 2)
    bus = HookBus()
    bus.subscribe(m.on_event)
    await bus.publish(tool_run("r5"))
    body, content_type = m.render()
    assert content_type.startswith("text/plain; version=")
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    for name in (
        "agent_runs_started",
        "agent_runs_finished",
        "agent_active_runs",
        "agent_step_duration_seconds",
        "agent_tool_call_duration_seconds",
        "agent_tool_calls",
        "agent_model_tokens",
        "agent_model_call_duration_seconds",
    ):
        assert name in families, name
    assert families["agent_active_runs"].samples[0].value == 2
    assert families["agent_step_duration_seconds"].type == "histogram"


def test_registries_are_independent() -> None:
    a, b = RunMetrics(), RunMetrics()
    a.runs_started.inc()
    assert value(a, "agent_runs_started_total") == 1
    assert value(b, "agent_runs_started_total") == 0
