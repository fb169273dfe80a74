"""Hypothesis against the reference server's /rpc: every answer is a JSON-RPC object, never a 500."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from control_bridge import contract as c
from control_bridge.server import create_app

from .conftest import TOKEN

AUTH = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
METHOD_NAMES = sorted([*c.METHODS, *c.ADMIN_METHODS, "rpc.discover", "", "run"])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=30,
)
params = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"runId": st.sampled_from(["r-fuzz", "nope", ""]) | st.text(max_size=300)},
        optional={
            "leaseVersion": st.integers(-5, 5) | st.text(max_size=3),
            "events": st.lists(
                st.fixed_dictionaries({"sequence": st.integers(-2, 5), "type": st.text(max_size=10)}),
                max_size=4,
            ),
            "toolCall": st.fixed_dictionaries(
                {"id": st.text(max_size=5), "name": st.sampled_from(["calculator", "counter", "x"])},
                optional={"arguments": json_values},
            ),
            "idempotencyKey": st.text(max_size=8),
            "state": json_values,
            "version": st.integers(-1, 3),
            "status": st.sampled_from(["completed", "failed", "running", 3]),
        },
    ),
)
requests = st.fixed_dictionaries(
    {"jsonrpc": st.sampled_from(["2.0", "1.0", 2])},
    optional={
        "id": st.integers() | st.text(max_size=10) | st.none() | st.floats(allow_nan=False),
        "method": st.sampled_from(METHOD_NAMES) | st.text(max_size=20) | st.integers(),
        "params": params,
    },
)
bodies = st.one_of(
    requests.map(json.dumps),
    st.lists(requests, max_size=4).map(json.dumps),
    json_values.map(json.dumps),
    st.binary(max_size=200),
    st.text(max_size=200),
    st.integers(1, 3000).map(lambda n: "[" * n + "]" * n),
    st.integers(1, 3000).map(lambda n: '{"a":' * n + "1" + "}" * n),
    st.integers(1000, 200_000).map(lambda n: json.dumps({"jsonrpc": "2.0", "id": 1, "method": "x" * n})),
)


def _assert_jsonrpc_object(item: Any) -> None:
    assert isinstance(item, dict) and item.get("jsonrpc") == "2.0" and "id" in item
    assert ("result" in item) != ("error" in item)
    if "error" in item:
        assert isinstance(item["error"]["code"], int) and isinstance(item["error"]["message"], str)


def test_fuzzed_rpc_never_500s_and_db_stays_intact(tmp_path: Path) -> None:
    db = tmp_path / "fuzz.db"
    app = create_app(db, TOKEN, max_body_bytes=100_000)
    plane = app.state.control
    with asyncio.Runner() as runner:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://cp")
        runner.run(plane.create_run({"input": "keep me", "runId": "r-fuzz"}))
        runner.run(
            plane.call(
                "run.events.append",
                {"runId": "r-fuzz", "events": [{"sequence": 1, "type": "run.started", "data": {}}]},
            )
        )
        seen_codes: set[int] = set()

        @settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))
        @given(body=bodies)
        def check(body: str | bytes) -> None:
            response = runner.run(client.post("/rpc", content=body, headers=AUTH))
            seen_codes.add(response.status_code)
            assert response.status_code in (200, 204, 413)
            if response.status_code == 204:
                return
            payload = response.json()
            for item in payload if isinstance(payload, list) else [payload]:
                _assert_jsonrpc_object(item)

        check()
        record = runner.run(plane.get_run("r-fuzz"))
        first_event = runner.run(plane.events("r-fuzz"))[0]
        runner.run(client.aclose())
        runner.run(plane.aclose())
    assert 200 in seen_codes
    assert record.input == "keep me" and first_event.type == "run.started"
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("SELECT input FROM runs WHERE run_id = 'r-fuzz'").fetchone() == ("keep me",)
