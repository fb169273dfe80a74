"""TaskFold over hand-made events: the states, held chunks and structured answers (no server needed)."""

from __future__ import annotations

import json

from a2a.types import TaskState

from agent.events.types import Event
from agent.server.a2a.mapping import TaskFold, parse_structured


def events(*items: tuple[str, dict]) -> list[Event]:  # type: ignore[type-arg]
    return [Event("run_1", i + 1, f"#{i + 1}", t, d, 1000.0 + i) for i, (t, d) in enumerate(items)]


def test_states_follow_the_run() -> None:
    fold = TaskFold("run_1", "ctx", 999.0)
    seen = []
    for event in events(
        ("phase.changed", {"from": None, "to": "prompted"}),
        ("phase.changed", {"from": "prompted", "to": "planning"}),
        (
            "await.clarification",
            {"awaitId": "a1", "prompt": "Which one?", "toolName": "ask_user", "payload": {}},
        ),
        ("run.suspended", {"pending": ["a1"]}),
        ("phase.changed", {"from": "awaiting", "to": "executing_tools"}),
        ("run.failed", {"error": {"kind": "internal", "message": "boom"}}),
    ):
        fold.apply(event)
        seen.append(fold.state)
    assert seen == [
        TaskState.TASK_STATE_SUBMITTED,
        TaskState.TASK_STATE_WORKING,
        TaskState.TASK_STATE_WORKING,
        TaskState.TASK_STATE_INPUT_REQUIRED,
        TaskState.TASK_STATE_WORKING,
        TaskState.TASK_STATE_FAILED,
    ]
    assert fold.status_message is not None and fold.status_message.parts[0].text == "boom"


def test_last_chunk_and_a_repeated_turn_after_resume() -> None:
    fold = TaskFold("run_1", "ctx", 999.0)
    out = []
    for event in events(
        ("assistant.delta", {"turn": 0, "text": "a"}),
        ("assistant.delta", {"turn": 0, "text": "b"}),
        ("run.resumed", {"phase": "planning"}),
        ("assistant.delta", {"turn": 0, "text": "a"}),
        ("assistant.delta", {"turn": 0, "text": "b"}),
        ("assistant.message", {"turn": 0, "text": "ab", "toolCalls": []}),
    ):
        out += fold.apply(event)
    chunks = [(u.artifact.parts[0].text, u.append, u.last_chunk) for u in out]
    assert chunks == [("a", False, False), ("a", False, False), ("b", True, True)]
    assert fold.task([]).artifacts[0].parts[0].text == "ab"


def test_structured_answers_are_never_streamed_as_text() -> None:
    answer = json.dumps({"a2a": {"parts": [{"data": {"k": 1}}]}})
    fold = TaskFold("run_1", "ctx", 999.0)
    out = []
    for event in events(
        ("assistant.delta", {"turn": 0, "text": answer[:5]}),
        ("assistant.delta", {"turn": 0, "text": answer[5:]}),
        ("assistant.message", {"turn": 0, "text": answer, "toolCalls": []}),
        ("run.completed", {"output": answer}),
    ):
        out += fold.apply(event)
    updates = [e for e in out if e.DESCRIPTOR.name == "TaskArtifactUpdateEvent"]
    assert len(updates) == 1 and updates[0].artifact.parts[0].data.struct_value["k"] == 1
    assert fold.state == TaskState.TASK_STATE_COMPLETED
    assert parse_structured("plain text") is None and parse_structured('{"a2a": 1}') is None
