"""The container's database: schema upgrades keep old data readable; hot queries use an index."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from agent.events.log import RunLog
from agent.events.payloads import AssistantDelta, RunStarted
from agent.localdb import SCHEMA_VERSION, LocalDB
from agent.runtime.checkpoints import CheckpointStore
from agent.runtime.state import RunState

V1 = """
CREATE TABLE events (run_id TEXT NOT NULL, sequence INTEGER NOT NULL, key TEXT NOT NULL, type TEXT NOT NULL,
    data TEXT NOT NULL, ts REAL NOT NULL, PRIMARY KEY (run_id, sequence)) WITHOUT ROWID;
CREATE UNIQUE INDEX events_key ON events (run_id, key);
CREATE TABLE checkpoints (run_id TEXT PRIMARY KEY, version INTEGER NOT NULL, state TEXT NOT NULL,
    updated_at REAL NOT NULL);
CREATE TABLE checkpoint_messages (run_id TEXT NOT NULL, idx INTEGER NOT NULL, message TEXT NOT NULL,
    PRIMARY KEY (run_id, idx)) WITHOUT ROWID;
PRAGMA user_version=1;
"""


def test_a_version_1_database_upgrades_in_place(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    old = RunState(run_id="r1", session_id="s1", thread_id="t1", input="hi", step=3, model="scripted:x")
    conn = sqlite3.connect(path)
    conn.executescript(V1)
    conn.execute(
        "INSERT INTO checkpoints VALUES (?,?,?,?)",
        ("r1", 4, old.model_dump_json(exclude={"transcript"}), 0.0),
    )
    conn.execute("INSERT INTO events VALUES ('r1', 1, 'run.started', 'run.started', '{}', 1.0)")
    conn.execute("INSERT INTO events VALUES ('r1', 2, 'terminal', 'run.completed', '{}', 2.0)")
    conn.commit()
    conn.close()

    db = LocalDB(path)
    assert db.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
    indexes = {r[0] for r in db.conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert "events_key" not in indexes and "events_terminal" in indexes
    loaded = CheckpointStore(db).load("r1")  # a v1 row holds the whole state
    assert loaded is not None and (loaded.input, loaded.step, loaded.model) == ("hi", 3, "scripted:x")
    log = RunLog(db)
    assert log.finished("r1") and not log.finished("r2")
    started = RunStarted(
        run_id="r1",
        session_id="s1",
        thread_id="t1",
        space_id="d",
        agent_type="a",
        input="hi",
        labels={},
        model="m",
    )
    assert log.append("r1", started, key="run.started").sequence == 1  # the key is still known
    db.close()


def test_fixed_fields_are_written_once_per_run(tmp_path: Path) -> None:
    db = LocalDB(tmp_path / "runs.db")
    store = CheckpointStore(db)
    state = RunState(run_id="r1", session_id="s1", thread_id="t1", input="x" * 5000, model="m")
    for step in range(3):
        state.step = step
        store.save(state)
        db.commit()
    (row,) = db.conn.execute("SELECT state FROM checkpoints WHERE run_id='r1'").fetchall()
    assert "input" not in json.loads(row[0]) and json.loads(row[0])["step"] == 2
    loaded = CheckpointStore(db).load("r1")
    assert loaded is not None and loaded.input == "x" * 5000 and loaded.step == 2
    db.close()


def test_retention_reads_finished_runs_from_the_partial_index(tmp_path: Path) -> None:
    db = LocalDB(tmp_path / "runs.db")
    query = "SELECT run_id, ts FROM events WHERE key='terminal' ORDER BY ts DESC"  # as in retention.prune
    plan = " ".join(str(r[-1]) for r in db.conn.execute(f"EXPLAIN QUERY PLAN {query}"))
    assert "INDEX events_terminal" in plan  # only finished runs are visited, one entry each
    db.close()


async def test_a_commit_larger_than_one_insert_keeps_every_event_in_order(tmp_path: Path) -> None:
    db = LocalDB(tmp_path / "runs.db")
    log = RunLog(db)
    for i in range(150):  # more than one multi-row INSERT holds
        log.append("r1", AssistantDelta(turn=i, text="é" * (i % 3)), key="terminal" if i == 149 else None)
    committed = await log.commit("r1")
    assert [e.sequence for e in committed] == list(range(1, 151))
    read = log.read("r1", limit=1000)
    assert [(e.sequence, e.data["turn"]) for e in read] == [(i + 1, i) for i in range(150)]
    assert read[7].data["text"] == "é" and log.finished("r1")
    db.close()


V2_EVENTS = [
    ("tool.result", {"toolCallId": "c1", "name": "calc", "ok": True, "output": "4", "error": None}),
    (
        "await.confirmation",
        {"id": "await-c1", "title": "t", "prompt": "p", "toolName": "x", "toolCallId": "c1", "payload": {}},
    ),
    ("run.reminder", {"kind": "wrap_up", "remainingS": 1.5}),
    ("policy.decision", {"policy": {"max_tool_calls": 5, "time_budget_s": 2.5}, "override": False}),
    ("run.completed", {"output": "done", "usage": {"input_tokens": 3, "tool_calls": 1}}),
]


def test_a_version_2_log_is_rewritten_onto_the_one_vocabulary(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    db = LocalDB(path)
    for seq, (type_, data) in enumerate(V2_EVENTS, start=1):
        key = "terminal" if type_ == "run.completed" else f"#{seq}"
        db.conn.execute(
            "INSERT INTO events VALUES ('r1', ?, ?, ?, ?, 1.0)", (seq, key, type_, json.dumps(data))
        )
    db.conn.execute("PRAGMA user_version=2")
    db.close()
    db = LocalDB(path)
    data = [e.data for e in RunLog(db).read("r1", limit=10)]
    assert data[0]["toolName"] == "calc" and "name" not in data[0]
    assert data[1]["awaitId"] == "await-c1"
    assert data[2] == {"kind": "wrap_up", "remainingMs": 1500}
    assert data[3]["policy"] == {"maxToolCalls": 5, "timeBudgetMs": 2500}
    assert data[4]["usage"] == {"inputTokens": 3, "toolCalls": 1}
    assert db.conn.execute("PRAGMA user_version").fetchone()[0] == 3
    db.close()
