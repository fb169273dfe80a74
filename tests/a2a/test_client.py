"""The official a2a-sdk client against the real server over a socket: send, stream, subscribe, cancel, awaits."""

from __future__ import annotations

import asyncio

from a2a.types import (
    CancelTaskRequest,
    GetTaskRequest,
    Message,
    Part,
    Role,
    StreamResponse,
    SubscribeToTaskRequest,
    TaskState,
)
from a2a.utils.errors import TaskNotCancelableError

from tests.a2a.conftest import a2a_client, collect, send_one, send_request, user_message
from tests.server.conftest import Server
from tests.support import rpc

COMPLETED = TaskState.TASK_STATE_COMPLETED
SLOW_TEXT = "".join(f"part-{i} " for i in range(1, 7))


def artifact_text(events: list[StreamResponse]) -> str:
    """Replays artifact updates (append or replace) from a Task snapshot onwards, as a client would."""
    text = ""
    for event in events:
        if event.HasField("task"):
            text = "".join(p.text for a in event.task.artifacts for p in a.parts)
        elif event.HasField("artifact_update"):
            chunk = "".join(p.text for p in event.artifact_update.artifact.parts)
            text = text + chunk if event.artifact_update.append else chunk
    return text


def states(events: list[StreamResponse]) -> list[int]:
    out = []
    for event in events:
        if event.HasField("task"):
            out.append(event.task.status.state)
        elif event.HasField("status_update"):
            out.append(event.status_update.status.state)
    return out


async def test_blocking_send_completes_with_the_answer(server: Server) -> None:
    async with a2a_client(server.url, streaming=False) as client:
        response = await send_one(client, user_message("tck-complete-task"))
    task = response.task
    assert task.status.state == COMPLETED
    assert task.id.startswith("run_") and task.context_id.startswith("ctx-")
    assert task.status.message.parts[0].text == "Hello from TCK"
    assert [p.text for a in task.artifacts for p in a.parts] == ["Hello from TCK"]
    assert [m.role for m in task.history] == [Role.ROLE_USER, Role.ROLE_AGENT]
    assert task.status.timestamp.ToJsonString().endswith("Z")


async def test_return_immediately_then_the_task_finishes(server: Server) -> None:
    async with a2a_client(server.url, streaming=False) as client:
        response = await send_one(client, user_message("a2a-slow"), return_immediately=True)
        assert response.task.status.state in (TaskState.TASK_STATE_SUBMITTED, TaskState.TASK_STATE_WORKING)
        for _ in range(100):
            task = await client.get_task(GetTaskRequest(id=response.task.id))
            if task.status.state == COMPLETED:
                break
            await asyncio.sleep(0.1)
    assert task.status.state == COMPLETED
    assert "".join(p.text for a in task.artifacts for p in a.parts) == SLOW_TEXT


async def test_stream_starts_with_the_task_and_chunks_the_artifact(server: Server) -> None:
    async with a2a_client(server.url) as client:
        events = await collect(client.send_message(send_request(user_message("tck-stream-artifact-chunked"))))
    assert events[0].HasField("task") and events[0].task.status.state == TaskState.TASK_STATE_SUBMITTED
    updates = [e.artifact_update for e in events if e.HasField("artifact_update")]
    assert [(u.artifact.parts[0].text, u.append, u.last_chunk) for u in updates] == [
        ("chunk-1 ", False, False),
        ("chunk-2", True, True),
    ]
    assert states(events) == [TaskState.TASK_STATE_SUBMITTED, TaskState.TASK_STATE_WORKING, COMPLETED]
    assert events[-1].HasField("status_update")


async def test_two_subscribers_see_the_same_events_in_the_same_order(server: Server) -> None:
    async with a2a_client(server.url) as client:
        first = await collect_first(client, user_message("a2a-slow"))
        task_id = first.task.id
        one, two = await asyncio.gather(
            collect(client.subscribe(SubscribeToTaskRequest(id=task_id))),
            collect(client.subscribe(SubscribeToTaskRequest(id=task_id))),
        )
    # Both began with a snapshot; from the later snapshot on, both saw exactly the same events.
    assert one[0].HasField("task") and two[0].HasField("task")
    tail = min(len(one), len(two)) - 1
    assert [e.SerializeToString(deterministic=True) for e in one[-tail:]] == [
        e.SerializeToString(deterministic=True) for e in two[-tail:]
    ]
    assert artifact_text(one) == artifact_text(two) == SLOW_TEXT
    assert states(one)[-1] == states(two)[-1] == COMPLETED


async def collect_first(client, message: Message) -> StreamResponse:  # type: ignore[no-untyped-def]
    return await send_one_stream_first(client, message)


async def send_one_stream_first(client, message: Message) -> StreamResponse:  # type: ignore[no-untyped-def]
    """Starts a streaming send and leaves after its first event (the Task)."""
    stream = client.send_message(send_request(message))
    event = await anext(stream)
    await stream.aclose()
    return event  # type: ignore[no-any-return]


async def test_resubscribe_mid_run_delivers_the_rest(server: Server) -> None:
    async with a2a_client(server.url) as client:
        stream = client.send_message(send_request(user_message("a2a-slow")))
        seen: list[StreamResponse] = []
        async for event in stream:
            seen.append(event)
            if sum(e.HasField("artifact_update") for e in seen) == 2:
                break
        await stream.aclose()
        task_id = seen[0].task.id
        rest = await collect(client.subscribe(SubscribeToTaskRequest(id=task_id)))
    assert rest[0].HasField("task") and rest[0].task.id == task_id
    assert artifact_text(seen).startswith("part-1 part-2 ")
    assert artifact_text(rest) == SLOW_TEXT
    assert states(rest)[-1] == COMPLETED


async def test_cancel_answers_with_the_canceled_task(server: Server) -> None:
    async with a2a_client(server.url, streaming=False) as client:
        started = await send_one(client, user_message("test-resubscribe-message-id"), return_immediately=True)
        await asyncio.sleep(0.3)
        task = await client.cancel_task(CancelTaskRequest(id=started.task.id))
        assert task.status.state == TaskState.TASK_STATE_CANCELED
        again = await client.get_task(GetTaskRequest(id=started.task.id))
        assert again.status.state == TaskState.TASK_STATE_CANCELED
        try:
            await client.cancel_task(CancelTaskRequest(id=started.task.id))
        except TaskNotCancelableError:
            pass
        else:
            raise AssertionError("a canceled task was canceled again")


async def test_clarification_is_answered_by_a_follow_up_message(server: Server) -> None:
    async with a2a_client(server.url, streaming=False) as client:
        asked = (await send_one(client, user_message("a2a-ask"))).task
        assert asked.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
        assert "What should I do next?" in asked.status.message.parts[0].text
        answer = user_message("a2a-ask", "paint it blue", task_id=asked.id)
        done = (await send_one(client, answer)).task
    assert done.id == asked.id and done.context_id == asked.context_id
    assert done.status.state == COMPLETED
    assert done.status.message.parts[0].text == "You answered: paint it blue"
    texts = [m.parts[0].text for m in done.history]
    assert texts[0] == "hello" and "paint it blue" in texts


async def _confirm(server: Server, reply: Message) -> str:
    policy = rpc(
        server.client,
        server.url,
        "policy.override",
        {"requireConfirmation": ["counter"]},
        headers=server.auth,
    )
    assert policy["result"]["applied"] is True
    async with a2a_client(server.url, streaming=False) as client:
        asked = (await send_one(client, user_message("a2a-confirm"))).task
        assert asked.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
        details = asked.status.message.parts[1].data.struct_value
        assert details["kind"] == "confirmation" and details["toolName"] == "counter"
        reply.task_id = asked.id
        done = (await send_one(client, reply)).task
    assert done.status.state == COMPLETED
    return done.status.message.parts[0].text


async def test_confirmation_approved_runs_the_tool(server: Server) -> None:
    text = await _confirm(server, user_message("a2a-yes", "yes, go ahead"))
    assert text.startswith("The tool answered:") and '"value"' in text and "denied" not in text


async def test_confirmation_denied_with_a_data_part(server: Server) -> None:
    reply = user_message("a2a-no")
    del reply.parts[:]
    part = Part()
    part.data.struct_value.update({"approved": False, "reason": "not today"})
    reply.parts.append(part)
    text = await _confirm(server, reply)
    assert '"status": "denied"' in text and "not today" in text


async def test_get_task_history_length(server: Server) -> None:
    async with a2a_client(server.url, streaming=False) as client:
        task = (await send_one(client, user_message("tck-complete-task"))).task
        full = await client.get_task(GetTaskRequest(id=task.id))
        one = await client.get_task(GetTaskRequest(id=task.id, history_length=1))
        none = await client.get_task(GetTaskRequest(id=task.id, history_length=0))
    assert len(full.history) == 2
    assert [m.message_id for m in one.history] == [full.history[-1].message_id]
    assert len(none.history) == 0


async def test_a_streamed_answer_starts_working_and_ends_completed(server: Server) -> None:
    async with a2a_client(server.url) as client:
        asked = await collect(client.send_message(send_request(user_message("a2a-ask"))))
        assert states(asked)[-1] == TaskState.TASK_STATE_INPUT_REQUIRED  # the stream closed at the question
        task_id = asked[0].task.id
        answered = await collect(
            client.send_message(send_request(user_message("a2a-ask", "green", task_id=task_id)))
        )
    assert answered[0].HasField("task") and answered[0].task.id == task_id
    assert states(answered)[0] == TaskState.TASK_STATE_WORKING  # the answer is already recorded
    assert states(answered)[-1] == COMPLETED
    assert artifact_text(answered).endswith("You answered: green")
