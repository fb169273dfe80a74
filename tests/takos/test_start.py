"""`/start` as Takos's executor host calls it: auth, Takos's body, the answer, duplicates and replacement."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import httpx

from agent.models.fake_server import ModelServer, Reply
from agent.settings import Settings
from tests.takos.conftest import START_TOKEN, TakosContainer
from tests.takos.fake_worker import FakeTakos
from tests.takos.helpers import wait_for


def _body(worker: FakeTakos, run_id: str, **extra: object) -> dict[str, object]:
    token, info = worker.mint(run_id, v2=False)
    run = worker.runs[run_id]
    return {
        "runId": run_id,
        "serviceId": run.service_id,
        "workerId": run.service_id,
        "model": "gpt-takos-test",
        "leaseVersion": run.lease_version,
        "executorTier": 1,
        "executorContainerId": info.container_id,
        "controlRpcBaseUrl": worker.url,
        "startToken": START_TOKEN,
        "controlRpcToken": token,
        "checkpointProtocolVersion": 2,
        **extra,
    }


def _post(container: TakosContainer, body: object, token: str | None = START_TOKEN) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.post(f"{container.url}/start", content=json.dumps(body), headers=headers, timeout=30)


def test_start_auth_and_strictness(worker: FakeTakos, container: TakosContainer) -> None:
    worker.create_run("r1", "hi")
    assert _post(container, _body(worker, "r1"), token=None).status_code == 401
    assert _post(container, _body(worker, "r1"), token="wrong-token-0123456789").status_code == 401
    unknown = _post(container, _body(worker, "r1", surprise=True))
    assert unknown.status_code == 400 and "surprise" in unknown.text
    no_token = _body(worker, "r1")
    del no_token["controlRpcToken"]
    assert _post(container, no_token).status_code == 400
    assert _post(container, _body(worker, "r1", executorTier=7)).status_code == 400
    assert _post(container, [1, 2]).status_code == 400
    assert worker.calls == []  # nothing reached the Worker


def test_start_answers_v2_then_duplicate_for_the_same_lease(
    worker: FakeTakos, model_server: ModelServer, container: TakosContainer
) -> None:
    gate = threading.Event()

    def slow(_: object) -> Reply:
        gate.wait(10)
        return Reply(text="done")

    model_server.script([slow])
    worker.create_run("r1", "hi")
    body = _body(worker, "r1")
    first = _post(container, body)
    assert first.status_code == 202
    assert first.json() == {
        "accepted": True,
        "runId": "r1",
        "runtimeProtocolVersion": 2,
        "serviceId": "svc-1",
        "replaced": False,
    }
    again = _post(container, body)
    assert (
        again.status_code == 202
        and again.json()["duplicate"] is True
        and again.json()["runtimeProtocolVersion"] == 2
    )
    gate.set()
    wait_for(lambda: worker.runs["r1"].completion is not None)
    assert len(worker.calls_to("complete-run")) == 1 and len(model_server.requests) == 1


def test_a_higher_lease_replaces_the_running_task(
    worker: FakeTakos, model_server: ModelServer, container: TakosContainer
) -> None:
    gate = threading.Event()

    def hang(_: object) -> Reply:
        gate.wait(3)  # (blocks the model server: the fresh call is answered once this gives up)
        return Reply(text="stale answer")

    model_server.script([hang, Reply(text="fresh answer")])
    run = worker.create_run("r1", "hi")
    assert _post(container, _body(worker, "r1")).status_code == 202
    wait_for(lambda: len(model_server.requests) == 1)
    worker.reclaim("r1")
    replaced = _post(container, _body(worker, "r1"))
    assert replaced.status_code == 202 and replaced.json()["replaced"] is True
    wait_for(lambda: run.completion is not None)
    gate.set()
    done = worker.committed(run.run_id)
    assert (done["output"], done["leaseVersion"], done["serviceId"]) == ("fresh answer", 2, "svc-2")
    assert len(worker.calls_to("complete-run")) == 1


def test_no_start_token_configured_answers_503(worker: FakeTakos, tmp_path: Path) -> None:
    bare = TakosContainer(tmp_path / "d", TAKOS_AGENT_START_TOKEN="")
    try:
        worker.create_run("r1", "hi")
        answer = _post(bare, _body(worker, "r1"))
        assert answer.status_code == 503 and answer.json() == {"error": "start auth token is not configured"}
    finally:
        bare.stop()


def test_selection_and_environment() -> None:
    takos = Settings.from_env(
        {"TAKOS_AGENT_CONTROL_RPC_BASE_URL": "http://w.example", "TAKOS_AGENT_BIND_HOST": "0.0.0.0"}
    )
    assert takos.takos and not takos.embedded_control_plane and takos.host == "0.0.0.0"
    assert not Settings.from_env({}).takos
    assert not Settings.from_env(
        {"CONTROL_PROTOCOL": "jsonrpc", "TAKOS_AGENT_CONTROL_RPC_BASE_URL": "http://w"}
    ).takos
    explicit = Settings.from_env(
        {"CONTROL_PROTOCOL": "TAKOS", "TAKOS_AGENT_START_TOKEN": "short", "EXECUTOR_TIER": "3"}
    )
    assert explicit.takos and explicit.effective_start_token == "short" and explicit.executor_tier == 3
    assert Settings.from_env({"HOST": "127.0.0.1", "TAKOS_AGENT_BIND_HOST": "0.0.0.0"}).host == "127.0.0.1"
    assert Settings.from_env({"TAKOS_AGENT_START_TOKEN": "short"}).effective_start_token is None  # jsonrpc
