"""The fake Worker itself answers as CONTRACT.md says Takos's host and Worker do (so passing against it
means something): the host pipeline, legacy endpoints, revocation after complete-run."""

from __future__ import annotations

import httpx

from tests.takos.fake_worker import PREFIX, FakeTakos


def _call(
    worker: FakeTakos,
    endpoint: str,
    token: str,
    body: object = None,
    *,
    content: bytes | None = None,
    method: str = "POST",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    base = {
        "Authorization": f"Bearer {token}",
        "X-Takos-Run-Id": "r1",
        "X-Takos-Executor-Tier": "1",
        "X-Takos-Executor-Container-Id": "tier1-warm-0",
    }
    base.update(headers or {})
    kwargs: dict[str, object] = (
        {"content": content}
        if content is not None
        else {"json": body if body is not None else {"runId": "r1"}}
    )
    return httpx.request(method, worker.url + PREFIX + endpoint, headers=base, timeout=10, **kwargs)  # type: ignore[arg-type]


def test_host_pipeline(worker: FakeTakos) -> None:
    worker.create_run("r1", "hi")
    token, _ = worker.mint("r1")
    assert _call(worker, "heartbeat", token).status_code == 200
    assert _call(worker, "heartbeat", token, headers={"X-Takos-Run-Id": ""}).status_code == 401
    assert _call(worker, "heartbeat", "nope").status_code == 401
    assert _call(worker, "heartbeat", token, headers={"Authorization": f"bearer {token}"}).status_code == 401
    assert _call(worker, "heartbeat", token, method="PUT").status_code == 405
    assert _call(worker, "heartbeat", token, content=b"{not json").json() == {
        "error": "Invalid control RPC JSON"
    }
    assert _call(worker, "heartbeat", token, content=b"[1]").json() == {
        "error": "Control RPC body must be a JSON object"
    }
    assert _call(worker, "run-event", token, content=b'{"pad":"' + b"x" * 140_000 + b'"}').status_code == 413
    assert _call(worker, "teleport", token).status_code == 401
    for legacy in ("add-message", "update-run-status", "run-fail", "run-reset"):
        answer = _call(worker, legacy, token)
        assert (answer.status_code, answer.json()) == (
            410,
            {"error": "Legacy split finalization is not available"},
        )
    bad_event = _call(
        worker, "run-event", token, {"runId": "r1", "type": "run.started", "data": {}, "sequence": 1}
    )
    assert (bad_event.status_code, bad_event.json()) == (400, {"error": "Invalid run event payload"})
    bad = _call(worker, "complete-run", token, {"runId": "r1", "status": "canceled", "usage": {}})
    assert bad.json() == {"error": "Invalid complete-run payload: status"}
    assert (
        _call(worker, "engine-checkpoint-save", token, {"checkpoint": {"session_id": "s"}}).status_code == 400
    )


def test_lease_loss_and_complete_run_revoke_tokens(worker: FakeTakos) -> None:
    run = worker.create_run("r1", "hi")
    token, _ = worker.mint("r1")
    run.lease_version = 2
    assert _call(worker, "heartbeat", token).json() == {"error": "Lease lost"}
    assert _call(worker, "tool-cleanup", token).status_code == 401  # revoked with its lease
    fresh, _ = worker.mint("r1")
    done = {
        "status": "completed",
        "usage": {"inputTokens": 1, "outputTokens": 1},
        "output": "ok",
        "messages": [],
    }
    assert _call(worker, "complete-run", fresh, done).json() == {
        "success": True,
        "committed": True,
        "idempotent": False,
    }
    assert _call(worker, "heartbeat", fresh).status_code == 401
