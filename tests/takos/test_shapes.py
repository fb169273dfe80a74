"""The pieces that must stay inside the Worker's rules whatever the run did: the complete-run transcript,
event data and the checkpoint envelope, checked with the fake Worker's own validators."""

from __future__ import annotations

from typing import Any

from control_bridge import contract as c
from control_bridge.takos.checkpoint import unwrap, usage_of, wrap
from control_bridge.takos.events import EventMapper
from control_bridge.takos.transcript import UNANSWERED, complete_run_messages
from tests.takos import worker_rules as rules


def _assistant(text: str, *calls: tuple[str, str]) -> c.HistoryMessage:
    tool_calls = [c.HistoryToolCall(id=i, name=n, arguments={"n": i}) for i, n in calls]
    return c.HistoryMessage(role="assistant", content=text, tool_calls=tool_calls)


def _results(*ids: str) -> list[c.HistoryMessage]:
    return [c.HistoryMessage(role="tool", content=f"r-{i}", tool_call_id=i) for i in ids]


USER = c.HistoryMessage(role="user", content="go")


def test_history_before_the_run_is_not_sent_and_pairs_hold() -> None:
    transcript = [
        c.HistoryMessage(role="user", content="earlier"),
        _assistant("old answer"),
        USER,
        _assistant("", ("a", "lookup"), ("b", "note")),
        *_results("b", "a"),
        _assistant("done"),
    ]
    messages = complete_run_messages(transcript)
    assert rules.transcript(messages)
    assert [(m["role"], m.get("tool_call_id")) for m in messages] == [
        ("assistant", None),
        ("tool", "a"),
        ("tool", "b"),
        ("assistant", None),
    ]


def test_more_than_16_calls_split_and_repeated_ids_are_renamed() -> None:
    ids = [f"c{i}" for i in range(20)]
    transcript = [
        USER,
        _assistant("many", *((i, "t") for i in ids)),
        *_results(*ids),
        _assistant("", ("c0", "t")),  # a model that reuses ids across turns
        *_results("c0"),
        _assistant("done"),
    ]
    messages = complete_run_messages(transcript)
    assert rules.transcript(messages)
    assert [len(m.get("tool_calls", [])) for m in messages if m["role"] == "assistant"] == [16, 4, 1, 0]
    assert sum(m["role"] == "tool" for m in messages) == 21


def test_open_calls_are_closed_and_a_failure_note_ends_the_transcript() -> None:
    messages = complete_run_messages(
        [USER, _assistant("trying", ("x", "t"))], final_note="The run failed: boom"
    )
    assert rules.transcript(messages)
    assert messages[1] == {"role": "tool", "content": UNANSWERED, "tool_call_id": "x"}
    assert messages[-1] == {"role": "assistant", "content": "The run failed: boom"}


def test_long_runs_keep_the_latest_rounds_within_256_messages() -> None:
    transcript: list[c.HistoryMessage] = [USER]
    for i in range(200):
        transcript += [_assistant(f"step {i}", (f"id{i}", "t")), *_results(f"id{i}")]
    transcript.append(_assistant("final"))
    messages = complete_run_messages(transcript)
    assert rules.transcript(messages) and len(messages) <= 256
    assert messages[-1]["content"] == "final" and messages[0]["role"] == "assistant"


def test_huge_content_and_arguments_are_clipped() -> None:
    big = c.HistoryMessage(
        role="assistant",
        content="x" * 600_000,
        tool_calls=[c.HistoryToolCall(id="i", name="t", arguments={"a": "y" * 300_000})],
    )
    messages = complete_run_messages([USER, big, *_results("i")])
    assert rules.transcript(messages)
    assert (
        len(messages[0]["content"].encode()) <= 512 * 1024
        and "_truncated" in messages[0]["tool_calls"][0]["arguments"]
    )


def test_mapped_events_fit_the_worker_bounds() -> None:
    mapper = EventMapper()
    deep: Any = {"v": 1}
    for _ in range(50):
        deep = {"d": deep}
    scheduled = mapper.map(
        "tool.scheduled",
        {"toolCallId": "t1", "toolName": "x", "arguments": {"deep": deep, "big": "z" * 100_000}},
        "2026-12-01T22:00:00.000Z",
    )
    result = mapper.map(
        "tool.result",
        {"toolCallId": "t1", "toolName": "x", "ok": True, "output": "o" * 100_000},
        "2026-12-01T22:00:00.250Z",
    )
    failed = mapper.map(
        "tool.result",
        {"toolCallId": "t2", "toolName": "x", "ok": False, "error": {"kind": "timeout", "message": "slow"}},
        None,
    )
    for mapped in (scheduled, result, failed):
        assert mapped is not None
        assert (
            rules.run_event(
                {"runId": "r", "type": mapped[0], "data": mapped[1], "sequence": 1, "leaseVersion": 1}
            )
            is None
        )
    assert result is not None and result[1]["duration_ms"] == 250 and result[1]["tool_call_id"] == "t1"
    assert (
        scheduled is not None and scheduled[1]["name"] == "x" and isinstance(scheduled[1]["arguments"], str)
    )
    assert failed is not None and (failed[1]["result"], failed[1]["error"]) == (None, "slow")
    for quiet in (
        "run.completed",
        "run.failed",
        "run.canceled",
        "assistant.delta",
        "usage",
        "prompt.rendered",
    ):
        assert mapper.map(quiet, {}, None) is None


def test_checkpoint_envelope_is_valid_and_round_trips() -> None:
    state = {
        "run_id": "r" * 300,
        "session_id": "s",
        "status": "suspended",
        "phase": "awaiting",
        "usage": {"input_tokens": 5, "output_tokens": 2, "cached_input_tokens": 7},
    }
    envelope = wrap(state, 3, "s")
    assert envelope is not None and rules.checkpoint(envelope) and envelope["status"] == "paused"
    assert rules.checkpoint_usage(usage_of(state))
    assert unwrap(envelope) == (3, state)
    assert wrap({**state, "status": "completed"}, 4, "s") is None
    assert unwrap({"session_id": "x", "state_json": {"engine": "someone else's"}}) is None
