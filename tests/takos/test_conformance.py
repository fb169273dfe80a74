"""The conformance scenarios of tests/control_bridge/test_conformance.py, run against the Takos transport
(in process, over a real socket to the fake Worker) wherever Takos's semantics match; where they differ the
test says how (e.g. an unknown run is lost authority, not NotFound; a cancel arrives as lease loss)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from control_bridge import contract as c
from control_bridge.errors import InvalidParams, LeaseLost, NotFound, Unavailable
from control_bridge.takos import ENDPOINT_KEY, MODEL_KEY, Identity, RunAuthorityLost, TakosControlPlane
from control_bridge.takos.http import TakosHttp
from control_bridge.takos.wire import engine_session_id
from tests.takos.fake_worker import FakeTakos


async def _no_sleep(_: float) -> None:
    return None


def plane_for(
    worker: FakeTakos, run_id: str, *, container_id: str | None = None, header_slot: bool = True
) -> TakosControlPlane:
    token, info = worker.mint(run_id, container_id=container_id)
    run = worker.runs[run_id]
    identity = Identity(
        run_id=run_id,
        service_id=run.service_id,
        worker_id=run.service_id,
        lease_version=run.lease_version,
        base_url=worker.url + "/",
        token=token,
        model="gpt-takos-test",
        executor_tier=1,
        executor_container_id=info.container_id if header_slot else None,
    )
    return TakosControlPlane(identity, http=TakosHttp(identity, sleep=_no_sleep, rng=random.Random(1)))


def _exec(
    run_id: str, key: str, name: str, arguments: dict[str, Any], call_id: str | None = None
) -> c.ToolsExecuteParams:
    return c.ToolsExecuteParams(
        run_id=run_id,
        lease_version=1,
        tool_call=c.ToolCall(id=call_id or f"call-{key}", name=name, arguments=arguments),
        idempotency_key=key,
    )


async def test_create_and_bootstrap(worker: FakeTakos) -> None:
    worker.create_run("r1", "hi there", history=[{"role": "user", "content": "before"}])
    plane = plane_for(worker, "r1")
    boot = await plane.run_bootstrap(c.RunBootstrapParams(run_id="r1", lease_version=1))
    assert (boot.status, boot.input, boot.space_id, boot.thread_id) == (
        "running",
        "hi there",
        "space-1",
        "thread-r1",
    )
    assert boot.session_id == engine_session_id("thread-r1") and boot.lease_version == 1
    # Takos's order: the lease fence first, then bootstrap, config, catalog, history.
    assert [x.endpoint for x in worker.calls] == [
        "heartbeat",
        "run-bootstrap",
        "run-config",
        "tool-catalog",
        "conversation-history",
    ]
    assert worker.calls[0].body == {
        "runId": "r1",
        "workerId": "svc-1",
        "serviceId": "svc-1",
        "leaseVersion": 1,
    }
    await plane.aclose()


async def test_unknown_run_is_lost_authority(worker: FakeTakos) -> None:
    worker.create_run("r1", "hi")
    plane = plane_for(worker, "r1")
    del worker.runs["r1"]  # the Worker answers 404 "Run not found": Takos reads it as lost authority
    with pytest.raises(RunAuthorityLost):
        await plane.run_bootstrap(c.RunBootstrapParams(run_id="r1", lease_version=1))
    with pytest.raises(NotFound):
        await plane.call("run.teleport", c.RunRef(run_id="r1"))


async def test_invalid_params_are_typed(worker: FakeTakos) -> None:
    worker.create_run("x", "hi")
    plane = plane_for(worker, "x")
    with pytest.raises(InvalidParams):
        await plane.call("run.events.append", {"runId": "x", "events": [{"sequence": 0, "type": "t"}]})  # type: ignore[arg-type]
    with pytest.raises(InvalidParams):
        await plane.run_heartbeat(c.RunHeartbeatParams(run_id="someone-else"))
    assert worker.calls == []


async def test_config_maps_takos_budgets_onto_policy_caps(worker: FakeTakos) -> None:
    worker.create_run("r1", "hi")
    worker.run_config_extra = {"maxGraphSteps": 40, "maxToolRounds": 2, "temperature": 0.2}
    plane = plane_for(worker, "r1")
    got = await plane.run_config(c.RunConfigParams(run_id="r1", lease_version=1))
    assert (got.system_prompt, got.temperature, got.max_tokens) == (
        "You are the Takos test agent.",
        0.2,
        8192,
    )
    assert got.policy.max_tool_calls == 32 and got.policy.interrupts_allowed is False
    worker.create_run("r2", "hi")
    worker.run_config_extra = {"maxGraphSteps": 500}
    capped = await plane_for(worker, "r2").run_config(c.RunConfigParams(run_id="r2", lease_version=1))
    assert capped.policy.max_tool_calls == 128


async def test_history_holds_prior_turns_and_complete_writes_the_answer(worker: FakeTakos) -> None:
    prior: list[dict[str, Any]] = [
        {"role": "user", "content": "q0"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": "t1", "name": "lookup", "arguments": '{"q": 1}'}],
        },
        {"role": "tool", "content": "r", "tool_call_id": "t1"},
        {"role": "assistant", "content": "a0"},
    ]
    run = worker.create_run("r1", "q1", history=prior)
    plane = plane_for(worker, "r1")
    history = await plane.conversation_history(c.ConversationHistoryParams(run_id="r1"))
    assert [(m.role, m.content) for m in history.messages][-2:] == [("assistant", "a0"), ("user", "q1")]
    assert history.messages[1].tool_calls[0].arguments == {"q": 1}
    transcript = [
        c.HistoryMessage(role="user", content="q1"),
        c.HistoryMessage(role="assistant", content="the answer"),
    ]
    done = await plane.run_complete(
        c.RunCompleteParams(
            run_id="r1",
            lease_version=1,
            status="completed",
            output="the answer",
            usage=c.UsageRecord(input_tokens=10, output_tokens=5),
            transcript=transcript,
        )
    )
    assert done == c.RunCompleteResult(status="completed", already_completed=False)
    assert run.thread_messages == [{"role": "assistant", "content": "the answer"}]
    assert run.status == "completed"


async def test_terminal_status_is_never_overwritten(worker: FakeTakos) -> None:
    worker.add_tool("counter", side_effects=True)
    run = worker.create_run("r1", "hi")
    plane = plane_for(worker, "r1")
    first = c.RunCompleteParams(
        run_id="r1", lease_version=1, status="failed", error=c.RunErrorInfo(kind="internal", message="boom")
    )
    assert (await plane.run_complete(first)).status == "failed"
    again = await plane.run_complete(
        c.RunCompleteParams(run_id="r1", lease_version=1, status="completed", output="late")
    )
    assert again.already_completed is True
    assert (run.status, worker.committed(run.run_id)["error"]) == ("failed", "boom")
    with pytest.raises(LeaseLost):  # the token died with the commit: nothing more is sent
        await plane.tools_execute(_exec("r1", "k", "counter", {}))
    assert len(worker.calls_to("complete-run")) == 1 and not worker.calls_to("tool-execute")


async def test_catalog_maps_side_effects_and_risk(worker: FakeTakos) -> None:
    worker.add_tool("clock", side_effects=False)
    worker.add_tool("counter", side_effects=True)
    worker.add_tool("deploy", side_effects=False, risk="high")
    worker.create_run("r1", "hi")
    tools = {
        t.name: t
        for t in (await plane_for(worker, "r1").tools_catalog(c.ToolsCatalogParams(run_id="r1"))).tools
    }
    assert set(tools) == {"clock", "counter", "deploy"}
    assert not tools["clock"].side_effects and tools["counter"].side_effects
    assert (
        tools["deploy"].side_effects and "risk:high" in tools["deploy"].tags
    )  # high risk is never read-only
    assert not any(t.requires_confirmation for t in tools.values())  # no person can answer inside a Takos run


async def test_allowlist_gates_the_catalog_and_calls(worker: FakeTakos) -> None:
    worker.add_tool("clock", side_effects=False)
    worker.add_tool("counter", side_effects=True)
    worker.create_run("r1", "hi")
    plane = plane_for(worker, "r1")
    plane.allowlist = frozenset({"clock"})
    names = [t.name for t in (await plane.tools_catalog(c.ToolsCatalogParams(run_id="r1"))).tools]
    assert names == ["clock"]
    refused = await plane.tools_execute(_exec("r1", "k", "counter", {}))
    assert refused.error is not None and "tool_not_permitted" in refused.error.message
    plane.allowlist = None  # unset: no remote tool at all
    assert worker.executions == {}


async def test_tool_outcomes_are_typed(worker: FakeTakos) -> None:
    worker.add_tool("clock", side_effects=False)
    worker.add_tool("fails", side_effects=False, run=lambda a: {"output": "", "error": "it broke"})
    worker.create_run("r1", "hi")
    plane = plane_for(worker, "r1")
    ok = await plane.tools_execute(_exec("r1", "k1", "clock", {"q": "now"}))
    assert (ok.tool_call_id, ok.error) == ("call-k1", None) and ok.output.startswith("clock:")
    failed = await plane.tools_execute(_exec("r1", "k2", "fails", {}))
    assert failed.error is not None and (failed.error.kind, failed.error.message) == (
        "domain_rejection",
        "it broke",
    )
    unknown = await plane.tools_execute(_exec("r1", "k3", "teleport", {}))
    assert unknown.error is not None and "Unknown tool" in unknown.error.message


async def test_tool_execute_is_idempotent_on_key(worker: FakeTakos) -> None:
    worker.add_tool("counter", side_effects=True)
    worker.create_run("r1", "hi")
    plane = plane_for(worker, "r1")
    first = await plane.tools_execute(_exec("r1", "step1", "counter", {"name": "d"}))
    again = await plane.tools_execute(_exec("r1", "step1", "counter", {"name": "d"}))
    assert first.output == again.output and worker.executions["counter"] == 1
    await plane.tools_execute(_exec("r1", "step2", "counter", {"name": "d"}))
    assert worker.executions["counter"] == 2
    long_key = "鍵" * 200  # 600 bytes, over Takos's 512-byte bound: sent as a stable digest instead
    await plane.tools_execute(_exec("r1", long_key, "counter", {}, call_id="c-long"))
    await plane.tools_execute(_exec("r1", long_key, "counter", {}, call_id="c-long"))
    sent = worker.calls_to("tool-execute")[-1].body["idempotencyKey"]
    assert len(sent.encode()) <= 512 and worker.executions["counter"] == 3


async def test_events_deduplicate_on_sequence_and_number_1_to_n(worker: FakeTakos) -> None:
    run = worker.create_run("r1", "hi")
    plane = plane_for(worker, "r1")

    def batch(*seqs: int) -> c.RunEventsAppendParams:
        events = [
            c.EventRecord(
                sequence=s,
                type="tool.scheduled",
                data={"toolCallId": f"t{s}", "toolName": "x", "arguments": {}},
                time="2026-12-01T22:00:00.000Z",
            )
            for s in seqs
        ]
        return c.RunEventsAppendParams(run_id="r1", lease_version=1, events=events)

    first = await plane.run_events_append(batch(1, 2, 3))
    assert (first.accepted, first.duplicates, first.last_sequence) == (3, 0, 3)
    second = await plane.run_events_append(batch(2, 3, 4, 4))
    assert (second.accepted, second.duplicates, second.last_sequence) == (1, 3, 4)
    quiet = c.EventRecord(sequence=5, type="assistant.delta", data={"text": "x"})
    await plane.run_events_append(c.RunEventsAppendParams(run_id="r1", lease_version=1, events=[quiet]))
    assert [(e["sequence"], e["data"]["tool_call_id"]) for e in run.events] == [
        (1, "t1"),
        (2, "t2"),
        (3, "t3"),
        (4, "t4"),
    ]
    assert {e["type"] for e in run.events} == {"tool_call"}


async def test_lease_fencing_stops_every_call_after_the_first_loss(worker: FakeTakos) -> None:
    worker.add_tool("counter", side_effects=True)
    worker.create_run("r1", "hi")
    plane = plane_for(worker, "r1")
    await plane.run_heartbeat(c.RunHeartbeatParams(run_id="r1", lease_version=1))
    worker.runs["r1"].lease_version = 2  # reclaimed; this token is still stored (not yet revoked)
    with pytest.raises(LeaseLost):
        await plane.run_heartbeat(c.RunHeartbeatParams(run_id="r1", lease_version=1))
    before = len(worker.calls)
    for call in (
        plane.tools_execute(_exec("r1", "k", "counter", {})),
        plane.run_checkpoint_save(
            c.RunCheckpointSaveParams(run_id="r1", lease_version=1, version=1, state={"run_id": "r1"})
        ),
        plane.run_is_cancelled(c.RunIsCancelledParams(run_id="r1")),
    ):
        with pytest.raises(LeaseLost):
            await call
    done = await plane.run_complete(
        c.RunCompleteParams(run_id="r1", lease_version=1, status="canceled", reason="lease_lost")
    )
    assert done.status == "canceled"  # not finalized: the new owner decides
    assert len(worker.calls) == before and worker.executions == {}
    assert all(t.revoked for t in worker.slots[(1, "tier1-warm-0")].values())  # the host revoked the lease


async def test_cancel_arrives_as_lease_loss_at_the_heartbeat(worker: FakeTakos) -> None:
    worker.create_run("r1", "hi")
    plane = plane_for(worker, "r1")
    assert (await plane.run_is_cancelled(c.RunIsCancelledParams(run_id="r1"))).cancelled is False
    worker.runs["r1"].status = "cancelled"
    with pytest.raises(LeaseLost):
        await plane.run_heartbeat(c.RunHeartbeatParams(run_id="r1", lease_version=1))
    assert not worker.calls_to("is-cancelled")  # Takos's container never polls it


async def test_checkpoints_round_trip_in_the_engine_envelope_and_are_fenced(worker: FakeTakos) -> None:
    run = worker.create_run("r1", "hi")
    plane = plane_for(worker, "r1")
    load = c.RunCheckpointLoadParams(run_id="r1", lease_version=1)
    assert await plane.run_checkpoint_load(load) == c.RunCheckpointLoadResult()
    state = {
        "run_id": "r1",
        "session_id": "s" * 200,
        "status": "running",
        "phase": "planning",
        "usage": {"input_tokens": 3, "output_tokens": 1, "cached_input_tokens": 9},
    }
    for version in (1, 2):
        saved = await plane.run_checkpoint_save(
            c.RunCheckpointSaveParams(
                run_id="r1", lease_version=1, version=version, state={**state, "step": version}
            )
        )
        assert saved.version == version
    assert run.checkpoint is not None and run.checkpoint["usage"] == {
        "inputTokens": 3,
        "outputTokens": 1,
        "cachedInputTokens": 3,
    }
    loaded = await plane.run_checkpoint_load(load)
    assert loaded.version == 2 and loaded.state == {**state, "step": 2}
    worker.reclaim("r1")
    with pytest.raises(LeaseLost):
        await plane.run_checkpoint_load(load)
    fresh = plane_for(worker, "r1")
    assert (
        await fresh.run_checkpoint_load(c.RunCheckpointLoadParams(run_id="r1", lease_version=2))
    ).state == {**state, "step": 2}


async def test_keys_come_back_for_the_model_and_never_print(worker: FakeTakos) -> None:
    worker.create_run("r1", "hi")
    keys = await plane_for(worker, "r1").secrets_api_keys(c.SecretsApiKeysParams(run_id="r1"))
    assert keys.keys == {MODEL_KEY: "sk-takos-run-key", ENDPOINT_KEY: worker.openai_endpoint}
    assert "sk-takos-run-key" not in repr(keys)
    worker.create_run("r2", "hi")
    plane = plane_for(worker, "r2")
    await plane.run_heartbeat(c.RunHeartbeatParams(run_id="r2"))
    worker.runs["r2"].status = "completed"
    with pytest.raises(LeaseLost):  # the central fence answers first (409) for a run that is not running
        await plane.secrets_api_keys(c.SecretsApiKeysParams(run_id="r2"))


async def test_cleanup_is_not_lease_fenced(worker: FakeTakos) -> None:
    worker.create_run("r1", "hi")
    plane = plane_for(worker, "r1")
    await plane.run_heartbeat(c.RunHeartbeatParams(run_id="r1"))
    worker.runs["r1"].lease_version = 5
    assert (await plane.tools_cleanup(c.ToolsCleanupParams(run_id="r1"))).released == 0
    assert worker.calls_to("tool-cleanup")[0].status == 200


async def test_retries_only_where_takos_retries(worker: FakeTakos) -> None:
    worker.add_tool("counter", side_effects=True)
    worker.create_run("r1", "hi")
    plane = plane_for(worker, "r1")
    await plane.run_heartbeat(c.RunHeartbeatParams(run_id="r1"))  # (the fence)
    worker.faults = {"tool-execute": [503], "heartbeat": [502], "engine-checkpoint-save": [429, 500]}
    with pytest.raises(Unavailable):
        await plane.tools_execute(_exec("r1", "k", "counter", {}))
    assert [x.status for x in worker.calls_to("tool-execute")] == [503]
    with pytest.raises(Unavailable):
        await plane.run_heartbeat(c.RunHeartbeatParams(run_id="r1"))
    state = {"run_id": "r1", "session_id": "s1", "status": "running", "phase": "planning"}
    await plane.run_checkpoint_save(
        c.RunCheckpointSaveParams(run_id="r1", lease_version=1, version=1, state=state)
    )
    assert [x.status for x in worker.calls_to("engine-checkpoint-save")] == [429, 500, 200]
    worker.faults = {"engine-checkpoint-load": [503, 503, 503, 503]}
    with pytest.raises(Unavailable):
        await plane.run_checkpoint_load(c.RunCheckpointLoadParams(run_id="r1"))
    assert len(worker.calls_to("engine-checkpoint-load")) == 3  # at most 3 attempts


async def test_the_container_id_header_selects_the_token_slot(worker: FakeTakos) -> None:
    worker.create_run("r1", "hi")
    plane = plane_for(worker, "r1", header_slot=False)  # without it, the lookup uses the runId slot
    with pytest.raises(RunAuthorityLost):
        await plane.run_heartbeat(c.RunHeartbeatParams(run_id="r1"))
    assert [(x.endpoint, x.status) for x in worker.calls] == [("heartbeat", 401)]


SKILL = {
    "id": "release-notes",
    "name": "Release notes",
    "description": "Write release notes",
    "triggers": ["release notes"],
    "source": "managed",
    "category": "writing",
    "execution_contract": {"preferred_tools": ["lookup"], "output_modes": ["text"]},
    "availability": "available",
    "availability_reasons": [],
    "instructions": "Group changes by type.",
    "priority": 80,
}


async def test_skills_the_worker_selected_are_used_as_selected(worker: FakeTakos) -> None:
    from skills import load_official_catalog, prepare_run_skills

    worker.create_run("r1", "what's the weather?")
    worker.activated_skills = [SKILL]
    plane = plane_for(worker, "r1")
    ctx = await plane.skills_runtime_context(c.SkillsRuntimeContextParams(run_id="r1"))
    assert ctx.preselected == ["release-notes"] and [s.id for s in ctx.custom_skills] == ["release-notes"]
    assert ctx.custom_skills[0].preferred_tools == ["lookup"] and ctx.locale == "en"
    body = worker.calls_to("skill-runtime-context")[0].body
    assert body["agentType"] == "default" and body["history"][-1]["content"] == "what's the weather?"
    official = load_official_catalog()
    run_skills = prepare_run_skills(official, ctx, user_messages=["what's the weather?"], run_input="x")
    assert run_skills.selection is not None and run_skills.selection.activated_ids == ["release-notes"]
    assert len(run_skills.catalog) > 1  # the official catalog stays there for the skill tools
    none_chosen = prepare_run_skills(
        official,
        ctx.model_copy(update={"preselected": []}),
        user_messages=["write release notes for v2"],
        run_input="x",
    )
    assert none_chosen.selection is not None and none_chosen.selection.activated == []
