"""One wire vocabulary: every JSON object a client can see, from real runs through the real server.

The runs cover a tool call, a confirmation approved and one denied, a clarification, a failing tool and a
cancel. Everything they produce — `/health`, `/start`, every JSON-RPC result, every SSE frame, every stored
event — is walked key by key: every key outside free-form values (tool arguments, labels, metadata, payloads,
JSON Schemas) is camelCase, and every key that names a duration ends in `Ms`.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from agent.events.catalog import EVENT_ADAPTER, EVENT_TYPES, event_schemas
from tests.server.conftest import Server
from tests.support import read_sse, rpc, write_script

CAMEL = re.compile(r"^[a-z][a-zA-Z0-9]*$")
FREE_FORM = frozenset({"arguments", "labels", "metadata", "payload", "parameters", "sections", "override"})
"""Keys whose values are the user's (or a section name → tokens map), not our vocabulary."""
DURATION_WORDS = (
    "timeout",
    "duration",
    "budget",
    "grace",
    "latency",
    "elapsed",
    "remaining",
    "interval",
    "delay",
)
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def offences(value: Any, path: str = "$") -> list[str]:
    """Every key that breaks the vocabulary, with where it is."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}"
            if not CAMEL.match(key):
                found.append(f"{where}: not camelCase")
            lowered = key.lower()
            if any(w in lowered for w in DURATION_WORDS) and not key.endswith(("Ms", "Tokens")):
                found.append(f"{where}: a duration not in …Ms")
            if key.endswith("S") and key[-2:-1].islower():
                found.append(f"{where}: a duration in seconds")
            if (key in ("time", "at", "validFrom", "validTo") or key.endswith("At")) and isinstance(
                item, str
            ):
                if not TIMESTAMP.match(item):
                    found.append(f"{where}: timestamp {item!r} not RFC 3339 UTC with ms")
            if key not in FREE_FORM:
                found += offences(item, where)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += offences(item, f"{path}[{i}]")
    return found


def test_the_checker_catches_what_it_should() -> None:
    assert offences({"max_tool_calls": 1}) == ["$.max_tool_calls: not camelCase"]
    assert offences({"timeBudgetS": 1})
    assert offences({"timeout": 5}) and not offences({"timeoutMs": 5})
    assert offences({"time": "2026-12-01T22:00:00+00:00"}) and not offences(
        {"time": "2026-12-01T22:00:00.000Z"}
    )
    assert not offences({"arguments": {"snake_key": 1}})


def _start(server: Server, body: dict[str, Any], seen: list[Any]) -> str:
    response = server.client.post("/start", json=body, headers=server.auth)
    assert response.status_code == 202, response.text
    seen.append(response.json())
    return str(response.json()["runId"])


def _rpc(server: Server, seen: list[Any], method: str, params: dict[str, Any]) -> dict[str, Any]:
    answer = rpc(server.client, server.url, method, params, headers=server.auth)
    assert "result" in answer, answer
    seen.append(answer["result"])
    return answer["result"]  # type: ignore[no-any-return]


def _wait(server: Server, run_id: str, seen: list[Any], statuses: tuple[str, ...]) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        view = _rpc(server, seen, "run.get", {"runId": run_id})
        if view["status"] in statuses:
            return view
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} never reached {statuses}")


def _answer_first(server: Server, run_id: str, seen: list[Any], decision: dict[str, Any]) -> None:
    view = _wait(server, run_id, seen, ("suspended",))
    await_id = view["pendingAwaits"][0]["awaitId"]
    _rpc(server, seen, "run.continue", {"runId": run_id, "awaitId": await_id, "decision": decision})


@pytest.fixture
def runs(server: Server, tmp_path: Path) -> tuple[Server, list[str], list[Any]]:
    """Drives the runs and returns every JSON object a client saw (the SSE frames and events come later)."""
    seen: list[Any] = [server.client.get("/health").json()]
    confirm = {"policy": {"requireConfirmation": ["counter"]}}
    counter = {"name": "counter", "arguments": {"name": "vocab"}}
    tools = write_script(
        tmp_path / "tools.json",
        [
            {"tool_calls": [{"name": "calculator", "arguments": {"expression": "6*7"}}, counter]},
            {"tool_calls": [{"name": "calculator", "arguments": {"expression": "1/0"}}]},
            {"tool_calls": [{"name": "ask_user", "arguments": {"question": "Which unit?"}}]},
            {"text": "done: {{last_tool_result}}"},
        ],
    )
    denied = write_script(tmp_path / "denied.json", [{"tool_calls": [counter]}, {"text": "without it"}])
    slow = write_script(tmp_path / "slow.json", [{"text": "slow", "delay_ms": 5000}])
    _rpc(server, seen, "policy.override", {"maxToolCalls": 40, "timeBudgetMs": 120_000})
    approved_run = _start(server, {"input": "compute", "model": tools, "config": confirm}, seen)
    _answer_first(server, approved_run, seen, {"approved": True, "requestedBy": "alice", "reason": "fine"})
    _answer_first(server, approved_run, seen, {"answer": "metres"})
    denied_run = _start(server, {"input": "count", "model": denied, "config": confirm}, seen)
    _answer_first(server, denied_run, seen, {"approved": False, "requestedBy": "bob", "reason": "no"})
    canceled_run = _start(server, {"input": "wait", "model": slow}, seen)
    time.sleep(0.3)
    _rpc(server, seen, "run.pause", {"runId": canceled_run})
    _rpc(server, seen, "run.cancel", {"runId": canceled_run, "reason": "user_requested"})
    run_ids = [approved_run, denied_run, canceled_run]
    for run_id in run_ids:
        _wait(server, run_id, seen, ("completed", "failed", "canceled"))
    deadline = time.monotonic() + 10  # memory ingests in the background: its hits carry timestamps too
    while not _rpc(server, seen, "memory.search", {"spaceId": "default", "query": "compute"})["hits"]:
        assert time.monotonic() < deadline, "memory never saw the runs"
        time.sleep(0.1)
    _rpc(server, seen, "skills.catalog", {})
    return server, run_ids, seen


def test_every_json_object_a_client_sees_speaks_one_vocabulary(
    runs: tuple[Server, list[str], list[Any]],
) -> None:
    server, run_ids, seen = runs
    stored: list[dict[str, Any]] = []
    for run_id in run_ids:
        frames = read_sse(server.client, f"/runs/{run_id}/events?profile=debug", headers=server.auth)
        seen += [f["data"] for f in frames]
        assert frames[-1]["event"] == "stream.end" and frames[-1]["id"] == frames[-2]["id"]
        page = _rpc(server, seen, "run.events", {"runId": run_id, "limit": 1000})
        stored += page["events"]
        seen.append(_rpc(server, seen, "run.get", {"runId": run_id}))
    seen += [e.wire() for run_id in run_ids for e in server.services.log.read(run_id, limit=10_000)]
    assert '"occurredAt": "' in json.dumps(seen), "memory hits (with timestamps) are among what was checked"
    problems = [p for obj in seen for p in offences(obj)]
    assert problems == []
    types = {e["type"] for e in stored}
    for expected in (
        "tool.result",
        "await.confirmation",
        "await.clarification",
        "tool.authorization",
        "run.completed",
        "run.canceled",
        "policy.decision",
        "usage",
    ):
        assert expected in types, f"the runs never produced {expected}"
    failed = [e["data"] for e in stored if e["type"] == "tool.result" and not e["data"]["ok"]]
    assert failed and failed[0]["error"]["kind"] and failed[0]["error"]["hint"]
    denied = [e["data"] for e in stored if e["type"] == "tool.result" and e["data"]["denied"]]
    assert len(denied) == 1
    policy = next(e["data"]["policy"] for e in stored if e["type"] == "policy.decision")
    assert policy["timeBudgetMs"] == 120_000 and policy["maxToolCalls"] == 40


def test_every_stored_event_validates_against_the_published_catalog(
    runs: tuple[Server, list[str], list[Any]],
) -> None:
    server, run_ids, _ = runs
    catalog = event_schemas()
    assert set(catalog["types"]) == set(EVENT_TYPES)
    union = catalog["union"]
    validator = jsonschema.Draft202012Validator(union)
    for run_id in run_ids:
        frames = read_sse(server.client, f"/runs/{run_id}/events?profile=debug", headers=server.auth)
        for frame in frames:
            envelope = frame["data"]
            errors = [e.message for e in validator.iter_errors(envelope)]
            assert errors == [], (envelope["type"], errors)
            assert EVENT_ADAPTER.validate_python(envelope).type == envelope["type"]


def test_every_event_type_is_in_the_catalog_and_its_schema_is_exact() -> None:
    catalog = event_schemas()
    union_refs = {
        d["properties"]["type"]["const"]
        for d in catalog["union"]["$defs"].values()
        if "type" in d.get("properties", {}) and "const" in d["properties"]["type"]
    }
    assert set(EVENT_TYPES) <= union_refs
    wrong = {
        "runId": "r",
        "sequence": 1,
        "type": "phase.changed",
        "time": "x",
        "data": {"to": "planning", "from": None, "extra": 1},
    }
    with pytest.raises(ValueError):
        EVENT_ADAPTER.validate_python(wrong)


def test_the_readme_lists_every_event_type() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    missing = [t for t in EVENT_TYPES if f"`{t}`" not in readme]
    assert missing == []


@pytest.mark.parametrize("resume_at", ["last", "beyond"])
def test_resuming_at_or_past_the_end_of_a_finished_run_ends_at_once(
    runs: tuple[Server, list[str], list[Any]], resume_at: str
) -> None:
    server, run_ids, _ = runs
    last = server.services.log.last_sequence(run_ids[0])
    header = str(last if resume_at == "last" else 999_999)
    started = time.monotonic()
    frames = read_sse(
        server.client,
        f"/runs/{run_ids[0]}/events",
        headers={**server.auth, "Last-Event-ID": header},
        timeout=5,
    )
    assert [f["event"] for f in frames] == ["stream.end"]
    assert frames[0]["id"] == last and frames[0]["data"]["data"] == {"lastSequence": last}
    assert time.monotonic() - started < 3
