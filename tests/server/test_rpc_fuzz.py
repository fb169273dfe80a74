"""Anything a client can send to the container's /rpc gets a JSON-RPC answer, never a 500."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.server.conftest import Server, make_server

METHODS = [
    "run.start",
    "run.get",
    "run.events",
    "run.cancel",
    "run.pause",
    "run.resume",
    "run.continue",
    "policy.override",
    "skills.catalog",
    "memory.search",
    "memory.write",
    "agent.health",
    "nope",
]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=50),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
param_keys = st.sampled_from(
    [
        "runId",
        "input",
        "sessionId",
        "after",
        "limit",
        "profile",
        "awaitId",
        "decision",
        "reason",
        "query",
        "spaceId",
        "episodes",
        "maxToolCalls",
        "model",
        "leaseVersion",
    ]
)
params = st.one_of(json_values, st.dictionaries(param_keys, json_values, max_size=5))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    path: Path = tmp_path_factory.mktemp("fuzz")
    yield from make_server(path, max_concurrent_runs=50)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method=st.sampled_from(METHODS), params=params, with_id=st.booleans())
def test_rpc_never_answers_500(server: Server, method: str, params: object, with_id: bool) -> None:
    body: dict[str, object] = {"jsonrpc": "2.0", "method": method, "params": params}
    if with_id:
        body["id"] = 7
    response = server.client.post("/rpc", content=json.dumps(body), headers=server.auth)
    assert response.status_code in (200, 204), response.text
    if with_id:
        answer = response.json()
        assert answer["id"] == 7 and ("result" in answer) != ("error" in answer)
        if "error" in answer:
            assert isinstance(answer["error"]["code"], int) and "Traceback" not in json.dumps(answer)
            assert answer["error"]["code"] != -32603, (method, params, answer)
    health = server.client.get("/health")
    assert health.status_code == 200
