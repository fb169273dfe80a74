"""A2A error codes (each one the issue names), the card, auth, and ListTasks paging."""

from __future__ import annotations

import pytest
from a2a.types import GetTaskRequest, ListTasksRequest, TaskPushNotificationConfig, TaskState
from a2a.utils.errors import (
    InvalidParamsError,
    PushNotificationNotSupportedError,
    TaskNotFoundError,
    UnsupportedOperationError,
)

from tests.a2a.conftest import a2a_client, rpc, send_one, user_message
from tests.server.conftest import Server

SEND = {"message": {"role": "ROLE_USER", "messageId": "tck-complete-task-e", "parts": [{"text": "hi"}]}}


def error_of(body: dict) -> tuple[int, str]:  # type: ignore[type-arg]
    error = body["error"]
    info = next(d for d in error["data"] if d["@type"] == "type.googleapis.com/google.rpc.ErrorInfo")
    assert info["domain"] == "a2a-protocol.org"
    return error["code"], info["reason"]


def test_card_is_public_and_built_from_the_server(server: Server) -> None:
    response = server.client.get("/.well-known/agent-card.json")
    assert response.status_code == 200 and "max-age" in response.headers["cache-control"]
    card = response.json()
    assert card["name"] == "agent-container" and card["version"]
    assert card["supportedInterfaces"] == [
        {"url": f"{server.url}/a2a", "protocolBinding": "JSONRPC", "protocolVersion": "1.0"}
    ]
    assert card["capabilities"] == {"streaming": True, "pushNotifications": False, "extendedAgentCard": False}
    assert card["securitySchemes"]["bearer"]["httpAuthSecurityScheme"]["scheme"] == "bearer"
    skills = {s["id"]: s for s in card["skills"]}
    assert "research-brief" in skills and "locale:ja" in skills["research-brief"]["tags"]
    assert "url" not in card and "protocolVersion" not in card  # 1.0 only: no 0.3 fields


def test_a2a_needs_the_bearer_token(server: Server) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": SEND}
    assert server.client.post("/a2a", json=body, headers={"A2A-Version": "1.0"}).status_code == 401
    wrong = {"A2A-Version": "1.0", "Authorization": "Bearer not-the-token-at-all"}
    assert server.client.post("/a2a/", json=body, headers=wrong).status_code == 401
    assert "result" in rpc(server, "SendMessage", SEND)


@pytest.mark.parametrize(
    ("method", "params", "code", "reason"),
    [
        ("GetTask", {"id": "nope"}, -32001, "TASK_NOT_FOUND"),
        ("CancelTask", {"id": "nope"}, -32001, "TASK_NOT_FOUND"),
        ("SubscribeToTask", {"id": "nope"}, -32001, "TASK_NOT_FOUND"),
        (
            "CreateTaskPushNotificationConfig",
            {"taskId": "t", "url": "http://x"},
            -32003,
            "PUSH_NOTIFICATION_NOT_SUPPORTED",
        ),
        ("ListTaskPushNotificationConfigs", {"taskId": "t"}, -32003, "PUSH_NOTIFICATION_NOT_SUPPORTED"),
        ("GetExtendedAgentCard", {}, -32007, "EXTENDED_AGENT_CARD_NOT_CONFIGURED"),
        ("GetTask", {"id": "x", "historyLength": -1}, -32602, "INVALID_PARAMS"),
        ("ListTasks", {"pageSize": 1000}, -32602, "INVALID_PARAMS"),
        ("ListTasks", {"pageToken": "%%%"}, -32602, "INVALID_PARAMS"),
    ],
)
def test_error_codes(server: Server, method: str, params: dict, code: int, reason: str) -> None:  # type: ignore[type-arg]
    assert error_of(rpc(server, method, params)) == (code, reason)


def test_version_not_supported(server: Server) -> None:
    assert error_of(rpc(server, "GetTask", {"id": "x"}, **{"A2A-Version": "2.0"}))[0] == -32009
    assert error_of(rpc(server, "GetTask", {"id": "x"}, **{"A2A-Version": ""}))[0] == -32009  # empty = 0.3


def test_content_type_not_supported(server: Server) -> None:
    wrong = server.client.post(
        "/a2a", content=b"{}", headers={**server.auth, "A2A-Version": "1.0", "Content-Type": "text/plain"}
    )
    assert error_of(wrong.json()) == (-32005, "CONTENT_TYPE_NOT_SUPPORTED")
    part = {"raw": "dGNr", "mediaType": "application/x-unknown"}
    unreadable = {"message": {"role": "ROLE_USER", "messageId": "m-ct", "parts": [part]}}
    answer = rpc(server, "SendMessage", unreadable)  # a file we cannot read is a reference, not an error
    assert "result" in answer and answer["result"]["task"]["id"]


def test_jsonrpc_errors(server: Server) -> None:
    headers = {**server.auth, "A2A-Version": "1.0", "Content-Type": "application/json"}
    assert server.client.post("/a2a", content=b"{not json", headers=headers).json()["error"]["code"] == -32700
    assert rpc(server, "NoSuchMethod", {})["error"]["code"] == -32601
    missing = {"jsonrpc": "2.0", "id": 1, "params": {}}
    assert server.client.post("/a2a", json=missing, headers=headers).json()["error"]["code"] == -32600


async def test_follow_up_errors(server: Server) -> None:
    async with a2a_client(server.url, streaming=False) as client:
        done = (await send_one(client, user_message("tck-complete-task"))).task
        with pytest.raises(UnsupportedOperationError):  # -32004: a terminal task takes no more messages
            await send_one(client, user_message("tck-complete-task", task_id=done.id))
        with pytest.raises(TaskNotFoundError):
            await send_one(client, user_message("tck-complete-task", task_id="run_unknown"))
        asked = (await send_one(client, user_message("tck-input-required"))).task
        with pytest.raises(InvalidParamsError):  # contextId and taskId disagree
            await send_one(client, user_message("x", task_id=asked.id, context_id=done.context_id))
        with pytest.raises(PushNotificationNotSupportedError):
            await client.create_task_push_notification_config(
                TaskPushNotificationConfig(task_id=done.id, url="http://127.0.0.1:1/hook")
            )


async def test_context_id_continues_the_thread(server: Server) -> None:
    async with a2a_client(server.url, streaming=False) as client:
        first = (await send_one(client, user_message("tck-complete-task"))).task
        second = (await send_one(client, user_message("tck-complete-task", context_id=first.context_id))).task
    assert second.context_id == first.context_id and second.id != first.id
    view = rpc_run(server, second.id)
    assert view["threadId"] == first.context_id


def rpc_run(server: Server, run_id: str) -> dict:  # type: ignore[type-arg]
    body = {"jsonrpc": "2.0", "id": 1, "method": "run.get", "params": {"runId": run_id}}
    return server.client.post("/rpc", json=body, headers=server.auth).json()["result"]  # type: ignore[no-any-return]


async def test_list_tasks_pages_newest_first(server: Server) -> None:
    async with a2a_client(server.url, streaming=False) as client:
        first = (await send_one(client, user_message("tck-complete-task"))).task
        context = first.context_id
        ids = [first.id]
        for _ in range(2):
            ids.append(
                (await send_one(client, user_message("tck-complete-task", context_id=context))).task.id
            )
        other = (await send_one(client, user_message("tck-complete-task"))).task  # another context
        page1 = await client.list_tasks(ListTasksRequest(context_id=context, page_size=2))
        page2 = await client.list_tasks(
            ListTasksRequest(context_id=context, page_size=2, page_token=page1.next_page_token)
        )
        with_artifacts = await client.list_tasks(ListTasksRequest(context_id=context, include_artifacts=True))
        completed = await client.list_tasks(
            ListTasksRequest(status=TaskState.TASK_STATE_COMPLETED, page_size=100)
        )
    assert [t.id for t in page1.tasks] == ids[::-1][:2] and page1.next_page_token
    assert [t.id for t in page2.tasks] == ids[:1] and page2.next_page_token == ""
    assert page1.total_size == 3 and all(not t.artifacts for t in [*page1.tasks, *page2.tasks])
    assert all(t.artifacts for t in with_artifacts.tasks) and len(with_artifacts.tasks) == 3
    assert other.id in {t.id for t in completed.tasks} and len(completed.tasks) == 4
    stamps = [t.status.timestamp.ToMilliseconds() for t in with_artifacts.tasks]
    assert stamps == sorted(stamps, reverse=True)


async def test_tasks_belong_to_the_credential_that_made_them(server: Server) -> None:
    """One bearer token is one caller; another caller (here: a context built for another credential) sees none
    of its tasks, neither listed nor by id."""
    from a2a.server.context import ServerCallContext

    async with a2a_client(server.url, streaming=False) as client:
        task = (await send_one(client, user_message("tck-complete-task"))).task
    handler = server.app.state.a2a.handler  # type: ignore[attr-defined]
    stranger = ServerCallContext(state={"owner": "someone-else", "headers": {"a2a-version": "1.0"}})
    assert list((await handler.on_list_tasks(ListTasksRequest(), stranger)).tasks) == []
    with pytest.raises(TaskNotFoundError):
        await handler.on_get_task(GetTaskRequest(id=task.id), stranger)


def test_protocol_0_3_is_served_too(server: Server) -> None:
    """No A2A-Version header means 0.3: its methods answer (through the SDK's 0.3 adapter) over the same runs."""
    message = {
        "kind": "message",
        "role": "user",
        "messageId": "tck-complete-task-03",
        "parts": [{"kind": "text", "text": "hi"}],
    }
    body = {"jsonrpc": "2.0", "id": 1, "method": "message/send", "params": {"message": message}}
    task = server.client.post("/a2a", json=body, headers=server.auth).json()["result"]
    assert task["kind"] == "task" and task["status"]["state"] == "completed"
    got = {"jsonrpc": "2.0", "id": 2, "method": "tasks/get", "params": {"id": task["id"]}}
    assert server.client.post("/a2a", json=got, headers=server.auth).json()["result"]["id"] == task["id"]
