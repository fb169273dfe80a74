"""A refusal at admission (at capacity) answers a REJECTED task that GetTask still finds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from a2a.types import CancelTaskRequest, GetTaskRequest, TaskState

from agent.server.app import create_app
from agent.settings import Settings
from tests.a2a.conftest import a2a_client, send_one, user_message
from tests.server.conftest import TOKEN, Server
from tests.support import serve


@pytest.fixture
def small_server(tmp_path: Path) -> Iterator[Server]:
    settings = Settings(
        data_dir=tmp_path / "data",
        start_token=TOKEN,
        memory_embedder="hash",
        model="a2a-conformance",
        max_concurrent_runs=1,
    )
    app = create_app(settings)
    with serve(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield Server(url, app, client, TOKEN)


async def test_at_capacity_the_task_is_rejected(small_server: Server) -> None:
    async with a2a_client(small_server.url, streaming=False) as client:
        busy = (
            await send_one(client, user_message("test-resubscribe-message-id"), return_immediately=True)
        ).task
        refused = (await send_one(client, user_message("tck-complete-task"))).task
        assert refused.status.state == TaskState.TASK_STATE_REJECTED
        assert "refused at admission" in refused.status.message.parts[0].text
        again = await client.get_task(GetTaskRequest(id=refused.id))
        assert (
            again.status.state == TaskState.TASK_STATE_REJECTED and again.history[0].parts[0].text == "hello"
        )
        canceled = await client.cancel_task(CancelTaskRequest(id=busy.id))
        assert canceled.status.state == TaskState.TASK_STATE_CANCELED
