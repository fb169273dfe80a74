"""A server killed mid-stream: after the restart, SubscribeToTask delivers the rest, in order, from the run log."""

from __future__ import annotations

from pathlib import Path

import httpx
from a2a.client import ClientConfig, create_client
from a2a.types import StreamResponse, SubscribeToTaskRequest, TaskState

from tests.a2a.conftest import send_request, user_message
from tests.a2a.test_client import SLOW_TEXT, artifact_text, states
from tests.durability.procs import TOKEN, ContainerProc


async def _client(url: str):  # type: ignore[no-untyped-def]
    http = httpx.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    return http, await create_client(url, ClientConfig(httpx_client=http))


async def test_subscribe_after_a_crash_delivers_the_rest_in_order(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = ContainerProc(data_dir, MODEL="a2a-conformance")
    seen: list[StreamResponse] = []
    try:
        http, client = await _client(first.url)
        stream = client.send_message(send_request(user_message("a2a-slow")))
        async for event in stream:
            seen.append(event)
            if sum(e.HasField("artifact_update") for e in seen) == 2:
                break
        first.kill9()  # mid-stream, mid-run: nothing gets to finish cleanly
        await stream.aclose()
        await http.aclose()
    finally:
        first.stop()
    task_id = seen[0].task.id
    assert states(seen)[-1] == TaskState.TASK_STATE_WORKING
    second = ContainerProc(data_dir, MODEL="a2a-conformance")
    try:
        http, client = await _client(second.url)
        rest = [e async for e in client.subscribe(SubscribeToTaskRequest(id=task_id))]
        again = [e async for e in client.send_message(send_request(user_message("tck-complete-task")))]
        await http.aclose()
    finally:
        second.stop()
    assert rest[0].HasField("task") and rest[0].task.id == task_id
    snapshot = artifact_text(rest[:1])
    assert snapshot.startswith("part-1 ")  # what was committed before the crash is in the snapshot
    assert artifact_text(rest) == SLOW_TEXT  # and the rest arrives (a repeated turn restarts its artifact)
    assert states(rest)[-1] == TaskState.TASK_STATE_COMPLETED
    assert rest[-1].HasField("status_update")
    assert states(again)[-1] == TaskState.TASK_STATE_COMPLETED  # and the restarted server takes new work
