"""Run-log events → A2A objects: the one place that reads our event `data` keys for A2A.

`TaskFold` folds a run's events, in sequence order, into the task's current state (status, artifacts, agent
messages) and returns, per event, the A2A stream events it causes. The snapshot (`task()`) and the stream are
made by the same fold, so a subscriber that starts from a snapshot at sequence N and then folds the events
after N sees exactly what a subscriber that was there from the start saw.

States: prompted → submitted; planning / executing_tools / synthesizing / paused → working; a suspension
(awaiting) → input-required with the first question in `status.message`; completed / failed / canceled as
they are; a structured answer `{"a2a": {"state": "rejected"}}` → rejected.

Structured answers: an assistant text that is exactly a JSON object `{"a2a": {...}}` carries A2A output
that plain text cannot: `parts` (ProtoJSON Parts: text, raw, url, data), `reply: "message"` (answer with a
Message, not a Task) and `state: "rejected"`. Streamed deltas that could still become such an object are held
back until the turn's message says what they were.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.json_format import ParseDict, ParseError
from google.protobuf.timestamp_pb2 import Timestamp

from a2a.types import (
    Artifact,
    Message,
    Part,
    Role,
    Task,
    TaskArtifactUpdateEvent,
    TaskState,
    TaskStatus,
    TaskStatusUpdateEvent,
)
from agent.events.types import Event

StreamEvent = Task | Message | TaskStatusUpdateEvent | TaskArtifactUpdateEvent

WORKING_PHASES = frozenset({"planning", "executing_tools", "synthesizing"})
TERMINAL_STATES = frozenset(
    {
        TaskState.TASK_STATE_COMPLETED,
        TaskState.TASK_STATE_FAILED,
        TaskState.TASK_STATE_CANCELED,
        TaskState.TASK_STATE_REJECTED,
    }
)
INTERRUPTED_STATES = frozenset({TaskState.TASK_STATE_INPUT_REQUIRED, TaskState.TASK_STATE_AUTH_REQUIRED})
STRUCTURED_PREFIX = '{"a2a"'
STATE_EVENT_TYPES = frozenset(
    {
        "run.started",
        "phase.changed",
        "run.paused",
        "run.resumed",
        "await.confirmation",
        "await.clarification",
        "run.suspended",
        "assistant.message",
        "run.completed",
        "run.failed",
        "run.canceled",
    }
)
"""Enough to know a task's status (ListTasks reads only these)."""


def timestamp(ts: float) -> Timestamp:
    stamp = Timestamp()
    stamp.FromMilliseconds(int(ts * 1000))
    return stamp


def agent_message(message_id: str, task_id: str, context_id: str, parts: list[Part]) -> Message:
    return Message(
        message_id=message_id, task_id=task_id, context_id=context_id, role=Role.ROLE_AGENT, parts=parts
    )


def parse_structured(text: str) -> dict[str, Any] | None:
    """The `a2a` object of a structured answer, or None for plain text."""
    stripped = text.strip()
    if not stripped.startswith(STRUCTURED_PREFIX):
        return None
    try:
        value = json.loads(stripped)
    except ValueError:
        return None
    inner = value.get("a2a") if isinstance(value, dict) and len(value) == 1 else None
    return inner if isinstance(inner, dict) else None


def structured_parts(answer: dict[str, Any]) -> list[Part]:
    parts: list[Part] = []
    for raw in answer.get("parts") or []:
        try:
            parts.append(ParseDict(raw, Part()))
        except (ParseError, TypeError, ValueError):
            parts.append(Part(text=json.dumps(raw)))
    return parts


@dataclass
class _Pending:
    await_id: str
    kind: str
    prompt: str
    tool_name: str
    tool_call_id: str
    arguments: dict[str, Any]


@dataclass
class TaskFold:
    task_id: str
    context_id: str
    created_ts: float
    state: TaskState = TaskState.TASK_STATE_SUBMITTED
    status_ts: float = 0.0
    status_message: Message | None = None
    phase: str = "prompted"
    last_sequence: int = 0
    reply: Message | None = None
    """Set when the agent answered with a Message instead of a Task."""
    pending: list[_Pending] = field(default_factory=list)
    artifacts: dict[str, Artifact] = field(default_factory=dict)
    agent_messages: list[tuple[float, Message]] = field(default_factory=list)
    closed: bool = False
    """The stream ends here: a terminal or interrupted state, or a Message reply."""
    _turn_text: dict[int, str] = field(default_factory=dict)
    _held: dict[int, str] = field(default_factory=dict)
    _restart_turns: set[int] = field(default_factory=set)
    _emitted: set[int] = field(default_factory=set)
    _rejected: bool = False

    def __post_init__(self) -> None:
        self.status_ts = self.status_ts or self.created_ts

    # --- snapshot ----------------------------------------------------------------------------------------
    def status(self) -> TaskStatus:
        status = TaskStatus(state=self.state, timestamp=timestamp(self.status_ts))
        if self.status_message is not None:
            status.message.CopyFrom(self.status_message)
        return status

    def task(self, history: list[tuple[float, Message]]) -> Task:
        """The Task now; `history` holds the user's messages (from the A2A index) with their times."""
        self._flush_held()
        merged = sorted([*history, *self.agent_messages], key=lambda item: item[0])
        return Task(
            id=self.task_id,
            context_id=self.context_id,
            status=self.status(),
            artifacts=list(self.artifacts.values()),
            history=[m for _, m in merged],
        )

    def _flush_held(self) -> None:
        """A snapshot includes text received but not streamed yet; it counts as delivered from then on, so a
        subscriber that starts from this snapshot never gets it twice."""
        for turn in list(self._held):
            if not _maybe_structured(self._turn_text.get(turn, "")):
                self._chunk(turn, self._held.pop(turn), last=False)

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    # --- folding -----------------------------------------------------------------------------------------
    def apply(self, event: Event) -> list[StreamEvent]:
        """Folds one event; returns the A2A stream events it causes (in order)."""
        self.last_sequence = event.sequence
        data = event.data
        out: list[StreamEvent] = []
        kind = event.type
        if kind == "phase.changed":
            self.phase = str(data.get("to") or "")
            if self.phase in WORKING_PHASES:
                self.pending = []
                out += self._set(TaskState.TASK_STATE_WORKING, event.ts, None)
        elif kind == "run.paused":
            out += self._set(TaskState.TASK_STATE_WORKING, event.ts, None)
        elif kind == "run.resumed":
            self._restart_turns = set(self._turn_text)
        elif kind in ("await.confirmation", "await.clarification"):
            self.pending.append(
                _Pending(
                    await_id=str(data.get("awaitId") or data.get("id") or ""),
                    kind="confirmation" if kind == "await.confirmation" else "clarification",
                    prompt=str(data.get("prompt") or data.get("title") or ""),
                    tool_name=str(data.get("toolName", "")),
                    tool_call_id=str(data.get("toolCallId", "")),
                    arguments=dict((data.get("payload") or {}).get("arguments") or {}),
                )
            )
        elif kind in ("tool.authorization", "tool.result") and self.pending:
            out += self._answered(data, event)
        elif kind == "run.suspended" and self.pending:
            out += self._set(TaskState.TASK_STATE_INPUT_REQUIRED, event.ts, self._question(event))
        elif kind == "assistant.delta":
            out += self._delta(int(data.get("turn", 0)), str(data.get("text", "")))
        elif kind == "assistant.message":
            out += self._turn_done(int(data.get("turn", 0)), str(data.get("text", "")), event)
        elif kind == "run.completed":
            state = TaskState.TASK_STATE_REJECTED if self._rejected else TaskState.TASK_STATE_COMPLETED
            out += self._set(state, event.ts, self._final_message(event, str(data.get("output") or "")))
        elif kind == "run.failed":
            error = data.get("error") or {}
            text = str(error.get("message") or "the run failed") if isinstance(error, dict) else str(error)
            out += self._set(TaskState.TASK_STATE_FAILED, event.ts, self._text_message(event, text))
        elif kind == "run.canceled":
            reason = str(data.get("reason") or "canceled")
            out += self._set(TaskState.TASK_STATE_CANCELED, event.ts, self._text_message(event, reason))
        return out

    def _set(self, state: TaskState, ts: float, message: Message | None) -> list[StreamEvent]:
        if self.closed and state not in TERMINAL_STATES:
            self.closed = False  # (a follow-up answered the question: the task goes on)
        if state == self.state and message is None:
            return []
        self.state = state
        self.status_ts = ts
        self.status_message = message
        if message is not None:
            self.agent_messages.append((ts, message))
        if state in TERMINAL_STATES or state in INTERRUPTED_STATES:
            self.closed = True
        return [TaskStatusUpdateEvent(task_id=self.task_id, context_id=self.context_id, status=self.status())]

    def _answered(self, data: dict[str, Any], event: Event) -> list[StreamEvent]:
        """An await was answered (run.continue logs it at once): the next question, or working again."""
        left = [
            p
            for p in self.pending
            if p.await_id != data.get("awaitId") and p.tool_call_id != data.get("toolCallId")
        ]
        if len(left) == len(self.pending) or self.state != TaskState.TASK_STATE_INPUT_REQUIRED:
            return []
        self.pending = left
        if left:
            return self._set(TaskState.TASK_STATE_INPUT_REQUIRED, event.ts, self._question(event))
        return self._set(TaskState.TASK_STATE_WORKING, event.ts, None)

    def _question(self, event: Event) -> Message:
        first = self.pending[0]
        hint = (
            'Answer in words, or with a data part {"answer": …}.'
            if first.kind == "clarification"
            else 'Reply yes or no, or send a data part {"approved": true|false, "reason"?: …}.'
        )
        details: dict[str, Any] = {"awaitId": first.await_id, "kind": first.kind, "toolName": first.tool_name}
        if first.kind == "confirmation":
            details["arguments"] = first.arguments
        parts = [Part(text=f"{first.prompt}\n\n{hint}"), Part(media_type="application/json")]
        parts[1].data.struct_value.update(details)
        return agent_message(f"{self.task_id}:{event.sequence}", self.task_id, self.context_id, parts)

    def _text_message(self, event: Event, text: str) -> Message:
        return agent_message(
            f"{self.task_id}:{event.sequence}", self.task_id, self.context_id, [Part(text=text)]
        )

    def _final_message(self, event: Event, output: str) -> Message | None:
        answer = parse_structured(output)
        if answer is not None:
            parts = structured_parts(answer)
            return agent_message(f"{self.task_id}:{event.sequence}", self.task_id, self.context_id, parts)
        return self._text_message(event, output) if output else None

    # --- artifacts ---------------------------------------------------------------------------------------
    def _artifact_update(
        self, turn: int, parts: list[Part], *, append: bool, last: bool
    ) -> TaskArtifactUpdateEvent:
        artifact_id = f"{self.task_id}:turn-{turn}"
        current = self.artifacts.get(artifact_id)
        if current is None or not append:
            current = Artifact(artifact_id=artifact_id, name="answer")
            self.artifacts[artifact_id] = current
            del current.parts[:]
        if (
            append
            and parts
            and parts[0].HasField("text")
            and current.parts
            and current.parts[-1].HasField("text")
        ):
            current.parts[-1].text += parts[0].text
            current.parts.extend(parts[1:])
        else:
            current.parts.extend(parts)
        return TaskArtifactUpdateEvent(
            task_id=self.task_id,
            context_id=self.context_id,
            artifact=Artifact(artifact_id=artifact_id, name="answer", parts=parts),
            append=append,
            last_chunk=last,
        )

    def _delta(self, turn: int, text: str) -> list[StreamEvent]:
        """Each chunk is held until the next one (or the turn's message) arrives, so the last chunk of a
        turn goes out with `lastChunk: true`; text that may still become a structured answer is held whole."""
        if not text:
            return []
        if turn in self._restart_turns:  # the turn is being repeated after a resume: its artifact restarts
            self._restart_turns.discard(turn)
            self._turn_text[turn] = ""
            self._held.pop(turn, None)
            self._emitted.discard(turn)
        so_far = self._turn_text.get(turn, "") + text
        self._turn_text[turn] = so_far
        if _maybe_structured(so_far):
            self._held[turn] = self._held.get(turn, "") + text
            return []
        previous = self._held.pop(turn, "")
        self._held[turn] = text
        if not previous:
            return []
        return [self._chunk(turn, previous, last=False)]

    def _chunk(self, turn: int, text: str, *, last: bool) -> TaskArtifactUpdateEvent:
        append = turn in self._emitted
        self._emitted.add(turn)
        return self._artifact_update(turn, [Part(text=text)], append=append, last=last)

    def _turn_done(self, turn: int, text: str, event: Event) -> list[StreamEvent]:
        answer = parse_structured(text)
        held = self._held.pop(turn, "")
        streamed = self._turn_text.pop(turn, "")
        self._restart_turns.discard(turn)
        if answer is not None:
            self._emitted.discard(turn)
            if answer.get("state") == "rejected":
                self._rejected = True
            if answer.get("reply") == "message":
                self.reply = agent_message(
                    f"{self.task_id}:{event.sequence}",
                    self.task_id,
                    self.context_id,
                    structured_parts(answer),
                )
                return []
            parts = structured_parts(answer)
            return [self._artifact_update(turn, parts, append=False, last=True)] if parts else []
        out: list[StreamEvent]
        if text and text.startswith(streamed) and (held or len(text) > len(streamed)):
            out = [self._chunk(turn, held + text[len(streamed) :], last=True)]
        elif text and text != streamed:  # nothing streamed (or something else): the message is the artifact
            self._emitted.discard(turn)
            out = [self._chunk(turn, text, last=True)]
        else:
            out = []
        self._emitted.discard(turn)
        return out


def _maybe_structured(text: str) -> bool:
    head = text.lstrip()
    return head.startswith(STRUCTURED_PREFIX) or STRUCTURED_PREFIX.startswith(head)
