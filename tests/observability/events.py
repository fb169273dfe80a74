"""A synthetic event sequence with known timestamps: 2 turns, 2 tool calls (one fails), then the answer."""

from __future__ import annotations

from typing import Any

from agent.events.types import Event

T0 = 1_700_000_000.0


class Seq:
    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.n = 0

    def __call__(self, type_: str, at: float, **data: Any) -> Event:
        self.n += 1
        return Event(run_id=self.run_id, sequence=self.n, key=f"#{self.n}", type=type_, data=data, ts=T0 + at)


def tool_run(run_id: str = "r1", *, end: str = "run.completed") -> list[Event]:
    e = Seq(run_id)
    return [
        e("run.started", 0.0, runId=run_id, sessionId="s1", agentType="default", model="scripted:demo"),
        e("phase.changed", 0.0, **{"from": None, "to": "prompted"}),
        e("phase.changed", 0.01, **{"from": "prompted", "to": "planning"}),
        e("usage", 0.2, turn=0, inputTokens=100, outputTokens=20, cachedInputTokens=0, model="scripted:demo"),
        e("assistant.message", 0.26, turn=0, text="", toolCalls=[{"id": "a", "name": "calc"}, {"id": "b"}]),
        e("tool.scheduled", 0.26, turn=0, toolCallId="a", toolName="calc", arguments={}),
        e("tool.scheduled", 0.26, turn=0, toolCallId="b", toolName="search", arguments={}),
        e("phase.changed", 0.3, **{"from": "planning", "to": "executing_tools"}),
        e("tool.result", 0.34, turn=0, toolCallId="a", toolName="calc", ok=True, output="4", error=None),
        e(
            "tool.result",
            1.26,
            turn=0,
            toolCallId="b",
            toolName="search",
            ok=False,
            output="x",
            error={"kind": "timeout", "message": "slow", "hint": "replan"},
        ),
        e("phase.changed", 1.3, **{"from": "executing_tools", "to": "planning"}),
        e(
            "usage",
            1.7,
            turn=1,
            inputTokens=150,
            outputTokens=30,
            cachedInputTokens=50,
            model="scripted:demo",
        ),
        e("assistant.message", 1.8, turn=1, text="done", toolCalls=[]),
        e("phase.changed", 1.8, **{"from": "planning", "to": "synthesizing"}),
        e("phase.changed", 1.82, **{"from": "synthesizing", "to": end.removeprefix("run.")}),
        e(end, 1.82, output="done", usage={}),
    ]
