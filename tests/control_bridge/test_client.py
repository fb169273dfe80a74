"""The JSON-RPC client against scripted peers (httpx.MockTransport) and, for auth, the real server."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from control_bridge import contract as c
from control_bridge.client import RetryPolicy, RpcControlPlane
from control_bridge.errors import (
    BridgeError,
    Conflict,
    InvalidParams,
    LeaseLost,
    ProtocolError,
    Unauthorized,
    Unavailable,
)

from .conftest import TOKEN

Handler = Callable[[httpx.Request], httpx.Response]
HEARTBEAT = c.RunHeartbeatParams(run_id="r1", lease_version=3)


class Script:
    """A peer that answers from a list of callables and records every request (and the backoff sleeps)."""

    def __init__(self, *answers: Callable[[dict[str, Any]], httpx.Response]) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []
        self.sleeps: list[float] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers[min(len(self.requests), len(self.answers)) - 1]
        return answer(json.loads(request.content))

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def client(self, **kwargs: Any) -> RpcControlPlane:
        http = httpx.AsyncClient(transport=httpx.MockTransport(self.handler))
        kwargs.setdefault("retry", RetryPolicy(max_attempts=4, base_delay_s=0.1))
        return RpcControlPlane("http://cp/rpc", "tok", http_client=http, sleep=self.sleep, **kwargs)


def ok(result: Any) -> Callable[[dict[str, Any]], httpx.Response]:
    return lambda req: httpx.Response(200, json={"jsonrpc": "2.0", "id": req["id"], "result": result})


def rpc_error(code: int, message: str = "x", data: Any = None) -> Callable[[dict[str, Any]], httpx.Response]:
    error = {"code": code, "message": message, **({"data": data} if data is not None else {})}
    return lambda req: httpx.Response(200, json={"jsonrpc": "2.0", "id": req["id"], "error": error})


def status(code: int, headers: dict[str, str] | None = None) -> Callable[[dict[str, Any]], httpx.Response]:
    return lambda req: httpx.Response(code, headers=headers, text="busy")


def raw(body: bytes | str) -> Callable[[dict[str, Any]], httpx.Response]:
    return lambda req: httpx.Response(200, content=body)


BEAT = {"ok": True, "leaseVersion": 3, "cancelRequested": True}


async def test_request_shape_headers_and_result() -> None:
    script = Script(ok(BEAT))
    rpc = script.client()
    result = await rpc.run_heartbeat(HEARTBEAT)
    assert result == c.RunHeartbeatResult(ok=True, lease_version=3, cancel_requested=True)
    (request,) = script.requests
    body = json.loads(request.content)
    assert body["jsonrpc"] == "2.0" and body["method"] == "run.heartbeat"
    assert body["params"] == {"runId": "r1", "leaseVersion": 3}
    assert request.headers["authorization"] == "Bearer tok" and request.headers["x-run-id"] == "r1"
    assert request.extensions["timeout"]["read"] == 10.0
    await rpc.aclose()


async def test_429_then_success_honours_retry_after() -> None:
    script = Script(status(429, {"Retry-After": "2"}), ok(BEAT))
    rpc = script.client()
    assert (await rpc.run_heartbeat(HEARTBEAT)).cancel_requested is True
    assert len(script.requests) == 2 and script.sleeps == [2.0]


@pytest.mark.parametrize(
    "failure",
    [
        status(503),
        status(502),
        status(408),
        raw(b"<html>oops"),
        raw(b'{"jsonrpc":"2.0","id":999,"result":{}}'),
    ],
    ids=["503", "502", "408", "garbage", "wrong-id"],
)
async def test_transient_failures_are_retried_with_growing_backoff(failure: Any) -> None:
    script = Script(failure, failure, ok(BEAT))
    rpc = script.client()
    assert (await rpc.run_heartbeat(HEARTBEAT)).lease_version == 3
    assert len(script.requests) == 3
    first, second = script.sleeps
    assert 0.05 <= first <= 0.1 and 0.1 <= second <= 0.2


async def test_retryable_rpc_codes_and_exhaustion() -> None:
    script = Script(rpc_error(-32050, "later"), rpc_error(-32029, "slow", {"retryAfterMs": 500}), status(503))
    rpc = script.client()
    with pytest.raises(Unavailable):
        await rpc.run_heartbeat(HEARTBEAT)
    assert len(script.requests) == 4 and rpc.attempts == 4
    assert script.sleeps[1] == 0.5


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (rpc_error(-32010, "lease"), LeaseLost),
        (rpc_error(-32001), Unauthorized),
        (status(401), Unauthorized),
        (rpc_error(-32602, "bad"), InvalidParams),
        (rpc_error(-32009), Conflict),
        (rpc_error(-32601, "Method not found"), BridgeError),
    ],
)
async def test_permanent_errors_are_not_retried(answer: Any, error: type[BridgeError]) -> None:
    script = Script(answer, ok(BEAT))
    rpc = script.client()
    with pytest.raises(error):
        await rpc.run_heartbeat(HEARTBEAT)
    assert len(script.requests) == 1 and script.sleeps == []


async def test_malformed_result_is_a_protocol_error_not_a_crash() -> None:
    script = Script(ok({"ok": "definitely", "leaseVersion": "three"}))
    rpc = script.client(retry=RetryPolicy(max_attempts=2))
    with pytest.raises(ProtocolError):
        await rpc.run_heartbeat(HEARTBEAT)
    assert len(script.requests) == 2


async def test_tool_execute_retries_reuse_the_same_idempotency_key_and_long_timeout() -> None:
    result = {"toolCallId": "t1", "output": {"v": 1}}
    script = Script(status(503), ok(result))
    rpc = script.client()
    params = c.ToolsExecuteParams(
        run_id="r1", lease_version=1, tool_call=c.ToolCall(id="t1", name="counter"), idempotency_key="r1:3:t1"
    )
    assert (await rpc.tools_execute(params)).output == {"v": 1}
    bodies = [r.content for r in script.requests]
    assert bodies[0] == bodies[1] and json.loads(bodies[0])["params"]["idempotencyKey"] == "r1:3:t1"
    assert all(r.headers["idempotency-key"] == "r1:3:t1" for r in script.requests)
    assert script.requests[0].extensions["timeout"]["read"] == 300.0


async def test_network_errors_are_retried_then_typed() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        raise httpx.ConnectError("refused", request=request)

    sleeps: list[float] = []

    async def sleep(s: float) -> None:
        sleeps.append(s)

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    rpc = RpcControlPlane(
        "http://cp/rpc", None, http_client=http, retry=RetryPolicy(max_attempts=3), sleep=sleep
    )
    with pytest.raises(Unavailable) as info:
        await rpc.run_heartbeat(HEARTBEAT)
    assert calls == 3 and len(sleeps) == 2 and isinstance(info.value.__cause__, httpx.ConnectError)
    await rpc.aclose()
    assert not http.is_closed  # given, not created: not ours to close
    await http.aclose()


async def test_closes_only_what_it_created() -> None:
    rpc = RpcControlPlane("http://cp/rpc", "tok")
    await rpc.aclose()
    assert rpc._client.is_closed
    assert "tok" not in repr(rpc)


async def test_wrong_token_against_real_server_is_unauthorized_without_retry_storm(
    server_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    rpc = RpcControlPlane(server_url, "wrong-token", retry=RetryPolicy(max_attempts=5))
    for _ in range(3):
        with pytest.raises(Unauthorized):
            await rpc.run_heartbeat(HEARTBEAT)
    assert rpc.attempts == 3
    assert len([r for r in caplog.records if "refused our credentials" in r.getMessage()]) == 1
    await rpc.aclose()
    async with httpx.AsyncClient() as http:
        response = await http.post(server_url, json={"jsonrpc": "2.0", "id": 1, "method": "run.heartbeat"})
    assert response.status_code == 401 and response.json()["error"]["code"] == -32001
    good = RpcControlPlane(server_url, TOKEN)
    with pytest.raises(BridgeError) as info:  # authorized now: the run simply does not exist
        await good.run_heartbeat(HEARTBEAT)
    assert info.value.name == "not_found"
    await good.aclose()
