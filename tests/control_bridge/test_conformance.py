"""The contract, checked identically against the embedded control plane and the reference server."""

from __future__ import annotations

import pytest

from control_bridge import contract as c
from control_bridge.errors import Conflict, InvalidParams, LeaseLost, NotFound

from .conftest import Plane


async def _started(plane: Plane, **kwargs: object) -> c.CreateRunResult:
    created = await plane.admin.create_run({"input": "hello", **kwargs})
    await plane.control.run_bootstrap(c.RunBootstrapParams(run_id=created.run_id, lease_version=1))
    return created


def _exec(run_id: str, key: str, name: str, arguments: dict, lease: int = 1) -> c.ToolsExecuteParams:
    return c.ToolsExecuteParams(
        run_id=run_id,
        lease_version=lease,
        tool_call=c.ToolCall(id=f"call-{key}", name=name, arguments=arguments),
        idempotency_key=key,
    )


async def test_create_and_bootstrap(plane: Plane) -> None:
    created = await plane.admin.create_run(
        {"input": "hi there", "runId": "r1", "spaceId": "s1", "labels": {"team": "a"}, "locale": "ja"}
    )
    assert (created.run_id, created.space_id, created.lease_version) == ("r1", "s1", 1)
    assert (await plane.admin.get_run("r1")).status == "pending"
    boot = await plane.control.run_bootstrap(c.RunBootstrapParams(run_id="r1", lease_version=1))
    assert boot.status == "running"
    assert (boot.input, boot.space_id, boot.thread_id, boot.session_id) == (
        "hi there",
        "s1",
        created.thread_id,
        created.session_id,
    )
    assert boot.labels == {"team": "a"} and boot.locale == "ja" and boot.lease_version == 1
    with pytest.raises(Conflict):
        await plane.admin.create_run({"input": "again", "runId": "r1"})


async def test_generated_run_ids_sort_by_creation(plane: Plane) -> None:
    ids = [(await plane.admin.create_run({"input": f"m{i}"})).run_id for i in range(20)]
    assert ids == sorted(ids) and len(set(ids)) == 20 and all(i.startswith("run_") for i in ids)


async def test_unknown_run_is_not_found(plane: Plane) -> None:
    with pytest.raises(NotFound):
        await plane.control.run_bootstrap(c.RunBootstrapParams(run_id="nope"))
    with pytest.raises(NotFound):
        await plane.admin.get_run("nope")


async def test_invalid_params_are_typed(plane: Plane) -> None:
    with pytest.raises(InvalidParams):
        await plane.control.call(
            "run.events.append", {"runId": "x", "events": [{"sequence": 0, "type": "t"}]}
        )


async def test_config_defaults_and_stored(plane: Plane) -> None:
    plain = await _started(plane)
    assert (
        await plane.control.run_config(c.RunConfigParams(run_id=plain.run_id))
    ).policy.max_tool_calls is None
    config = {"systemPrompt": "be brief", "model": "scripted", "policy": {"maxToolCalls": 3}}
    created = await _started(plane, config=config)
    got = await plane.control.run_config(c.RunConfigParams(run_id=created.run_id, lease_version=1))
    assert (got.system_prompt, got.model, got.policy.max_tool_calls) == ("be brief", "scripted", 3)


async def test_history_holds_prior_turns_and_complete_writes_the_answer(plane: Plane) -> None:
    first = await _started(plane, title="chat")
    history = await plane.control.conversation_history(c.ConversationHistoryParams(run_id=first.run_id))
    assert history.messages == [] and history.title == "chat"
    done = await plane.control.run_complete(
        c.RunCompleteParams(
            run_id=first.run_id,
            lease_version=1,
            status="completed",
            output="the answer",
            usage=c.UsageRecord(input_tokens=10, output_tokens=5),
        )
    )
    assert done == c.RunCompleteResult(status="completed", already_completed=False)
    second = await _started(plane, input="follow-up", thread_id=first.thread_id)
    history = await plane.control.conversation_history(c.ConversationHistoryParams(run_id=second.run_id))
    assert [(m.role, m.content) for m in history.messages] == [("user", "hello"), ("assistant", "the answer")]
    record = await plane.admin.get_run(first.run_id)
    assert (record.status, record.output, record.usage.input_tokens) == ("completed", "the answer", 10)


async def test_terminal_status_is_never_overwritten(plane: Plane) -> None:
    run = await _started(plane)
    params = c.RunCompleteParams(run_id=run.run_id, lease_version=1, status="canceled", reason="user")
    assert (await plane.control.run_complete(params)).already_completed is False
    again = c.RunCompleteParams(run_id=run.run_id, lease_version=1, status="completed", output="late")
    result = await plane.control.run_complete(again)
    assert (result.status, result.already_completed) == ("canceled", True)
    record = await plane.admin.get_run(run.run_id)
    assert (record.status, record.reason, record.output) == ("canceled", "user", None)
    with pytest.raises(Conflict):
        await plane.control.tools_execute(_exec(run.run_id, "k", "clock", {}))


async def test_catalog_has_builtins_and_registered_tools(plane: Plane) -> None:
    run = await _started(plane)
    await plane.admin.register_tool(c.RemoteTool(name="deploy", description="ship it", risk_level="high"))
    tools = {
        t.name: t for t in (await plane.control.tools_catalog(c.ToolsCatalogParams(run_id=run.run_id))).tools
    }
    assert {"clock", "calculator", "counter", "deploy"} <= set(tools)
    assert tools["counter"].side_effects and not tools["clock"].side_effects
    assert tools["deploy"].risk_level == "high"


@pytest.mark.parametrize(
    ("name", "arguments", "kind"),
    [
        ("calculator", {"expression": "2 ** 10 + (3 - 1) * 4"}, None),
        ("calculator", {"expression": "__import__('os')"}, "domain_rejection"),
        ("calculator", {"expression": "1/0"}, "domain_rejection"),
        ("calculator", {"expression": "9 ** 9 ** 9"}, "domain_rejection"),
        ("calculator", {"expr": "1"}, "invalid_call"),
        ("clock", {}, None),
        ("teleport", {}, "unknown_tool"),
    ],
)
async def test_tool_outcomes_are_typed(plane: Plane, name: str, arguments: dict, kind: str | None) -> None:
    run = await _started(plane)
    result = await plane.control.tools_execute(_exec(run.run_id, "k1", name, arguments))
    assert result.tool_call_id == "call-k1"
    assert (result.error.kind if result.error else None) == kind
    if name == "calculator" and kind is None:
        assert result.output["result"] == 1032


async def test_tool_execute_is_idempotent_on_key(plane: Plane) -> None:
    run = await _started(plane)
    first = await plane.control.tools_execute(_exec(run.run_id, "step1", "counter", {"name": "deploys"}))
    again = await plane.control.tools_execute(_exec(run.run_id, "step1", "counter", {"name": "deploys"}))
    assert first.output == again.output == {"name": "deploys", "value": 1}
    assert (first.replayed, again.replayed) == (False, True)
    assert await plane.admin.tool_execution_count("counter") == 1
    other = await plane.control.tools_execute(_exec(run.run_id, "step2", "counter", {"name": "deploys"}))
    assert other.output["value"] == 2 and await plane.admin.tool_execution_count("counter") == 2
    with pytest.raises(Conflict):
        await plane.control.tools_execute(_exec(run.run_id, "step1", "counter", {"name": "other"}))


async def test_events_deduplicate_on_sequence(plane: Plane) -> None:
    run = await _started(plane)

    def batch(*seqs: int) -> c.RunEventsAppendParams:
        events = [c.EventRecord(sequence=s, type="t", data={"n": s}, ts=1.0) for s in seqs]
        return c.RunEventsAppendParams(run_id=run.run_id, lease_version=1, events=events)

    first = await plane.control.run_events_append(batch(1, 2, 3))
    assert (first.accepted, first.duplicates, first.last_sequence) == (3, 0, 3)
    second = await plane.control.run_events_append(batch(2, 3, 4, 4))
    assert (second.accepted, second.duplicates, second.last_sequence) == (1, 3, 4)
    stored = await plane.admin.events(run.run_id)
    assert [(e.sequence, e.data["n"]) for e in stored] == [(1, 1), (2, 2), (3, 3), (4, 4)]


async def test_lease_fencing(plane: Plane) -> None:
    run = await _started(plane)
    assert await plane.admin.bump_lease(run.run_id) == 2
    stale = [
        plane.control.run_heartbeat(c.RunHeartbeatParams(run_id=run.run_id, lease_version=1)),
        plane.control.tools_execute(_exec(run.run_id, "k", "counter", {"name": "x"}, lease=1)),
        plane.control.run_events_append(
            c.RunEventsAppendParams(
                run_id=run.run_id, lease_version=1, events=[c.EventRecord(sequence=1, type="t")]
            )
        ),
        plane.control.run_checkpoint_save(
            c.RunCheckpointSaveParams(run_id=run.run_id, lease_version=1, version=1, state={})
        ),
        plane.control.run_complete(
            c.RunCompleteParams(run_id=run.run_id, lease_version=1, status="completed")
        ),
    ]
    for call in stale:
        with pytest.raises(LeaseLost):
            await call
    assert await plane.admin.tool_execution_count("counter") == 0
    assert await plane.admin.events(run.run_id) == []
    beat = await plane.control.run_heartbeat(c.RunHeartbeatParams(run_id=run.run_id, lease_version=2))
    assert (beat.ok, beat.lease_version, beat.cancel_requested) == (True, 2, False)
    with pytest.raises(Conflict):
        await plane.control.run_heartbeat(c.RunHeartbeatParams(run_id=run.run_id, lease_version=7))
    assert (await plane.admin.get_run(run.run_id)).status == "running"


async def test_cancel_flag_reaches_heartbeat_and_poll(plane: Plane) -> None:
    run = await _started(plane)
    polled = await plane.control.run_is_cancelled(c.RunIsCancelledParams(run_id=run.run_id))
    assert polled == c.RunIsCancelledResult(cancelled=False)
    await plane.admin.request_cancel(run.run_id, "user pressed stop")
    beat = await plane.control.run_heartbeat(c.RunHeartbeatParams(run_id=run.run_id, lease_version=1))
    assert beat.cancel_requested is True
    polled = await plane.control.run_is_cancelled(c.RunIsCancelledParams(run_id=run.run_id, lease_version=1))
    assert polled == c.RunIsCancelledResult(cancelled=True, reason="user pressed stop")


async def test_checkpoints_are_versioned_and_fenced(plane: Plane) -> None:
    run = await _started(plane)
    load = c.RunCheckpointLoadParams(run_id=run.run_id, lease_version=1)
    assert await plane.control.run_checkpoint_load(load) == c.RunCheckpointLoadResult()
    for version in (1, 2, 2):
        state = {"step": version}
        save = c.RunCheckpointSaveParams(run_id=run.run_id, lease_version=1, version=version, state=state)
        assert (await plane.control.run_checkpoint_save(save)).version == version
    assert await plane.control.run_checkpoint_load(load) == c.RunCheckpointLoadResult(
        version=2, state={"step": 2}
    )
    with pytest.raises(Conflict):
        await plane.control.run_checkpoint_save(
            c.RunCheckpointSaveParams(run_id=run.run_id, lease_version=1, version=1, state={})
        )
    await plane.admin.bump_lease(run.run_id)
    with pytest.raises(LeaseLost):
        await plane.control.run_checkpoint_load(load)
    rewind = c.RunCheckpointSaveParams(
        run_id=run.run_id, lease_version=2, version=2, state={"step": "resumed"}
    )
    await plane.control.run_checkpoint_save(rewind)
    loaded = await plane.control.run_checkpoint_load(
        c.RunCheckpointLoadParams(run_id=run.run_id, lease_version=2)
    )
    assert loaded.state == {"step": "resumed"}


async def test_space_skills_and_keys(plane: Plane) -> None:
    await plane.admin.set_custom_skills(
        "s1", [{"id": "sk1", "name": "Release notes", "instructions": "..."}], mcp_servers=["github"]
    )
    await plane.admin.set_api_keys("s1", {"openai": "sk-secret"})
    run = await _started(plane, space_id="s1", locale="en")
    other = await _started(plane, space_id="s2")
    ctx = await plane.control.skills_runtime_context(c.SkillsRuntimeContextParams(run_id=run.run_id))
    assert (
        [s.id for s in ctx.custom_skills] == ["sk1"] and ctx.mcp_servers == ["github"] and ctx.locale == "en"
    )
    keys = await plane.control.secrets_api_keys(c.SecretsApiKeysParams(run_id=run.run_id))
    assert keys.keys == {"openai": "sk-secret"} and "sk-secret" not in repr(keys)
    assert (await plane.control.secrets_api_keys(c.SecretsApiKeysParams(run_id=other.run_id))).keys == {}
    empty = await plane.control.skills_runtime_context(c.SkillsRuntimeContextParams(run_id=other.run_id))
    assert empty.custom_skills == []


async def test_cleanup_and_list_runs(plane: Plane) -> None:
    a = await _started(plane, space_id="s1")
    await _started(plane, space_id="s2")
    assert (await plane.control.tools_cleanup(c.ToolsCleanupParams(run_id=a.run_id))).released == 0
    runs = await plane.admin.list_runs({"spaceId": "s1"})
    assert [r.run_id for r in runs] == [a.run_id]
    assert len(await plane.admin.list_runs()) == 2


async def test_history_limit_keeps_the_latest_messages(plane: Plane) -> None:
    previous = None
    for i in range(3):
        run = await _started(plane, input=f"q{i}", **({"thread_id": previous.thread_id} if previous else {}))
        await plane.control.run_complete(
            c.RunCompleteParams(run_id=run.run_id, lease_version=1, status="completed", output=f"a{i}")
        )
        previous = run
    last = await _started(plane, input="q3", thread_id=previous.thread_id)
    history = await plane.control.conversation_history(
        c.ConversationHistoryParams(run_id=last.run_id, limit=3)
    )
    assert [m.content for m in history.messages] == ["a1", "q2", "a2"]


async def test_lease_zero_is_unfenced_and_unknown_methods_are_refused(plane: Plane) -> None:
    run = await _started(plane)
    await plane.admin.bump_lease(run.run_id)
    beat = await plane.control.run_heartbeat(c.RunHeartbeatParams(run_id=run.run_id))
    assert beat.lease_version == 2
    with pytest.raises(NotFound):
        await plane.control.call("run.teleport", {"runId": run.run_id})
