from __future__ import annotations

import time

from agent.events.payloads import RunPaused
from agent.models.scripted import Script, ScriptedModel
from agent.runtime.retention import prune


def model() -> ScriptedModel:
    return ScriptedModel(Script.model_validate({"turns": [{"text": "ok"}]}))


async def test_prunes_old_and_excess_finished_runs_only(harness_factory) -> None:
    h = harness_factory(model())
    runs = [(await h.run(f"r{i}")).run_id for i in range(4)]
    slow = ScriptedModel(Script.model_validate({"turns": [{"text": "late", "delay_ms": 10_000}]}))
    h.model = slow
    live = await h.start("still running")
    old = runs[0]
    h.db.conn.execute("UPDATE events SET ts = ts - 40 * 86400 WHERE run_id=?", (old,))
    h.log.append(live, RunPaused(phase="planning"))
    await h.log.commit()

    result = prune(h.db, max_age_days=30, max_runs=2, now=time.time())
    assert result.runs == 2  # the 40-day-old run, and the oldest beyond the newest two
    remaining = {r[0] for r in h.db.conn.execute("SELECT DISTINCT run_id FROM events")}
    assert remaining == {runs[2], runs[3], live}
    assert h.checkpoints.load(old) is None and h.checkpoints.load(runs[3]) is not None
    assert prune(h.db, max_age_days=30, max_runs=2).runs == 0


async def test_finished_runs_leave_memory_but_stay_duplicates(harness_factory, monkeypatch) -> None:
    from agent.runtime import manager as manager_module
    from agent.runtime.requests import StartRequest

    monkeypatch.setattr(manager_module, "MAX_FINISHED_IN_MEMORY", 2)
    h = harness_factory(model())
    ids = [(await h.run(f"r{i}", run_id=f"fixed-{i}")).run_id for i in range(4)]
    assert set(h.manager.runs) == {"fixed-2", "fixed-3"}
    again = await h.manager.start(StartRequest(run_id="fixed-0", input="r0"))
    assert again.duplicate is True and "fixed-0" not in h.manager.runs
    assert h.manager.get(ids[0]).state.status == "completed", "get reloads a dropped run from its checkpoint"
