"""Runs launched exactly as Takos's executor host launches them, against the fake Worker, end to end:
the container is a subprocess with the environment Takos's container host injects, on real sockets."""

from __future__ import annotations

import time
from pathlib import Path

from agent.models.fake_server import Fault, ModelServer, Reply, ToolCallReply
from tests.takos.conftest import START_TOKEN, TakosContainer
from tests.takos.fake_worker import UNCERTAIN, FakeTakos
from tests.takos.helpers import assert_events_valid, assert_headers, wait_for

MODEL = "gpt-takos-test"


def _two_tools(worker: FakeTakos) -> None:
    worker.add_tool("lookup", side_effects=False)
    worker.add_tool("send_note", side_effects=True)


def _tool_turn() -> Reply:
    return Reply(
        text="Let me check.",
        tool_calls=[
            ToolCallReply("lookup", {"q": "weather"}, id="call_a"),
            ToolCallReply("send_note", {"q": "sunny"}, id="call_b"),
        ],
        input_tokens=100,
        output_tokens=10,
        cached_input_tokens=20,
    )


def test_full_run_with_a_read_only_and_a_side_effecting_tool(
    worker: FakeTakos, model_server: ModelServer, container: TakosContainer
) -> None:
    _two_tools(worker)
    run = worker.create_run(
        "run-full-1",
        "Look up the weather and send a note.",
        history=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello!"}],
    )
    model_server.script(
        [_tool_turn(), Reply(text="It is sunny; I sent the note.", input_tokens=150, output_tokens=12)]
    )

    answer = worker.dispatch("run-full-1", container.url, model=MODEL, start_token=START_TOKEN)
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert (body["accepted"], body["runId"], body["runtimeProtocolVersion"]) == (True, "run-full-1", 2)
    wait_for(lambda: run.completion is not None, what="complete-run")
    time.sleep(1.5)  # three heartbeat periods: nothing may follow the commit

    # Every call was accepted by the Worker's own validation, with Takos's headers.
    assert [(c.endpoint, c.status) for c in worker.calls if not 200 <= c.status < 300] == []
    assert_headers(worker, "run-full-1")
    endpoints = [c.endpoint for c in worker.calls]
    # The synchronous lease fence first, then Takos's order of context calls.
    assert endpoints[:8] == [
        "heartbeat",
        "run-bootstrap",
        "run-config",
        "tool-catalog",
        "conversation-history",
        "engine-checkpoint-load",
        "skill-runtime-context",
        "api-keys",
    ]
    assert endpoints[-1] == "complete-run" and endpoints.count("complete-run") == 1
    assert "tool-cleanup" in endpoints and endpoints.index("tool-cleanup") < endpoints.index("complete-run")
    assert endpoints.index("engine-checkpoint-load") < endpoints.index("tool-execute")
    assert "engine-checkpoint-save" in endpoints and "is-cancelled" not in endpoints

    # Tools: each ran once; side-effecting calls carry an idempotency key.
    assert worker.executions == {"lookup": 1, "send_note": 1}
    executes = {c.body["toolCall"]["name"]: c.body for c in worker.calls_to("tool-execute")}
    assert executes["send_note"]["toolCall"] == {
        "id": "call_b",
        "name": "send_note",
        "arguments": {"q": "sunny"},
    }
    assert 0 < len(executes["send_note"]["idempotencyKey"].encode()) <= 512

    # The model was reached through api-keys: the Worker's key, its endpoint, the bare model, no stream.
    assert len(model_server.requests) == 2
    first = model_server.requests[0]
    assert (
        first.path == "/v1/chat/completions" and first.headers["authorization"] == "Bearer sk-takos-run-key"
    )
    assert first.body["model"] == MODEL and not first.body.get("stream")
    assert first.body["messages"][0]["role"] == "system"
    assert "You are the Takos test agent." in first.body["messages"][0]["content"]
    assert [m["content"] for m in first.body["messages"][1:] if m["role"] in ("user", "assistant")][-3:] == [
        "hi",
        "hello!",
        "Look up the weather and send a note.",
    ]
    assert {t["function"]["name"] for t in first.body["tools"]} >= {"lookup", "send_note"}

    # Events: Takos's types only, sequences 1..N, tool events carry the call id, no terminal event.
    events = assert_events_valid(worker, "run-full-1", 1)
    types = [e["type"] for e in events]
    assert types[0] == "started" and types.count("tool_call") == 2 and types.count("tool_result") == 2
    assert {e["data"]["tool_call_id"] for e in events if e["type"] in ("tool_call", "tool_result")} == {
        "call_a",
        "call_b",
    }

    # The one atomic end: usage summed (cached ≤ input), the answer, a paired transcript, token revoked.
    done = worker.committed(run.run_id)
    assert (done["status"], done["output"], done["serviceId"], done["leaseVersion"]) == (
        "completed",
        "It is sunny; I sent the note.",
        "svc-1",
        1,
    )
    assert done["usage"] == {"inputTokens": 250, "outputTokens": 22, "cachedInputTokens": 20}
    assert [m["role"] for m in done["messages"]] == ["assistant", "tool", "tool", "assistant"]
    assert run.status == "completed" and run.checkpoint is None
    assert all(t.revoked for tokens in worker.slots.values() for t in tokens.values())
    health = container.health().json()
    assert (health["status"], health["service"]) == ("ok", "takos-agent")
    # No secret reaches the logs: not the start token, the control token nor the model key.
    logs = container.stop_and_read_logs()
    tokens = [token for slot in worker.slots.values() for token in slot]
    assert "run-full-1" in logs  # (the logs were read: the run is named in them)
    for secret in (START_TOKEN, "sk-takos-run-key", *tokens):
        assert secret not in logs


def test_lease_lost_on_the_first_call(
    worker: FakeTakos, model_server: ModelServer, container: TakosContainer
) -> None:
    _two_tools(worker)
    run = worker.create_run("run-lost-1", "Send a note.")
    model_server.script([_tool_turn(), Reply(text="done")])
    # The run was cancelled between the dispatch and the container's first call: the fence answers 409.
    run.status = "cancelled"
    assert (
        worker.dispatch("run-lost-1", container.url, model=MODEL, start_token=START_TOKEN).status_code == 202
    )
    wait_for(lambda: worker.calls, what="a first call")
    time.sleep(3.0)
    assert [(c.endpoint, c.status) for c in worker.calls] == [("heartbeat", 409)]
    assert worker.executions == {} and model_server.requests == [] and run.events == []
    assert run.completion is None and run.checkpoint is None


def test_lease_lost_mid_run_stops_at_once_without_finalizing(
    worker: FakeTakos, model_server: ModelServer, container: TakosContainer
) -> None:
    _two_tools(worker)
    run = worker.create_run("run-lost-2", "Send a note, slowly.")

    def slow_turn(_: object) -> Reply:
        time.sleep(4)  # a slow second turn: the lease is lost while it hangs
        return Reply(text="too late")

    model_server.default = slow_turn
    model_server.script([_tool_turn()])
    assert (
        worker.dispatch("run-lost-2", container.url, model=MODEL, start_token=START_TOKEN).status_code == 202
    )
    wait_for(lambda: worker.executions["send_note"] == 1, what="the side effect")
    worker.reclaim("run-lost-2")  # stale recovery took the run: the next heartbeat is fenced
    wait_for(lambda: any(c.status in (401, 409) for c in worker.calls), what="the fence")
    fenced_at = next(c.at for c in worker.calls if c.status in (401, 409))
    time.sleep(5.0)
    late = [(c.endpoint, c.status) for c in worker.calls if c.at > fenced_at + 1.0]
    assert late == []  # nothing after the loss (the in-flight model call was abandoned)
    assert run.completion is None and worker.executions["send_note"] == 1
    assert not worker.calls_to("complete-run")


def test_kill_9_and_a_restart_with_a_higher_lease_resume_from_the_worker_checkpoint(
    worker: FakeTakos, model_server: ModelServer, tmp_path: Path
) -> None:
    import threading

    _two_tools(worker)
    run = worker.create_run("run-crash-1", "Send a note, then tell me.")
    gate = threading.Event()

    def slow_second_turn(_: object) -> Reply:
        gate.wait(20)  # the first container dies while this call hangs
        return Reply(text="(never delivered)")

    model_server.script(
        [_tool_turn(), slow_second_turn, Reply(text="The note is sent.", input_tokens=40, output_tokens=5)]
    )
    first = TakosContainer(tmp_path / "a")
    try:
        assert (
            worker.dispatch("run-crash-1", first.url, model=MODEL, start_token=START_TOKEN).status_code == 202
        )
        wait_for(lambda: len(model_server.requests) == 2, what="the second model call")

        def tool_results_saved() -> bool:
            if run.checkpoint is None:
                return False
            state = run.checkpoint["checkpoint"]["state_json"]["agentContainer"]["state"]
            return bool(state["transcript"][-1]["role"] == "tool")

        wait_for(tool_results_saved, what="a checkpoint with the tool results")
        first.kill9()
    finally:
        first.stop()
        gate.set()
    assert worker.executions["send_note"] == 1
    worker.reclaim("run-crash-1")  # the lease moves on (a new serviceId and leaseVersion 2)
    mark = len(worker.calls)
    second = TakosContainer(tmp_path / "b")  # another container: nothing local survives
    try:
        assert (
            worker.dispatch("run-crash-1", second.url, model=MODEL, start_token=START_TOKEN).status_code
            == 202
        )
        wait_for(lambda: run.completion is not None, what="complete-run")
    finally:
        second.stop()
    assert worker.executions == {"lookup": 1, "send_note": 1}
    assert sum(c.body["toolCall"]["name"] == "send_note" for c in worker.calls_to("tool-execute")) == 1
    lease2 = worker.calls[mark:]
    assert [c.endpoint for c in lease2[:6]] == [
        "heartbeat",
        "run-bootstrap",
        "run-config",
        "tool-catalog",
        "conversation-history",
        "engine-checkpoint-load",
    ]
    assert [(c.endpoint, c.status) for c in lease2 if not 200 <= c.status < 300] == []
    done = worker.committed(run.run_id)
    assert (done["status"], done["output"], done["leaseVersion"], done["serviceId"]) == (
        "completed",
        "The note is sent.",
        2,
        "svc-2",
    )
    assert [m["role"] for m in done["messages"]] == ["assistant", "tool", "tool", "assistant"]
    events = assert_events_valid(worker, "run-crash-1", 2)
    assert any(e["type"] == "progress" and "Resumed" in str(e["data"]["message"]) for e in events)
    assert not any(e["type"] == "tool_call" for e in events)  # nothing was re-scheduled


def test_complete_run_answered_5xx_twice_commits_exactly_once_on_the_third_attempt(
    worker: FakeTakos, model_server: ModelServer, container: TakosContainer
) -> None:
    worker.create_run("run-retry-1", "Just answer.")
    model_server.script([Reply(text="The answer.")])
    worker.faults["complete-run"] = [503, 502]
    assert (
        worker.dispatch("run-retry-1", container.url, model=MODEL, start_token=START_TOKEN).status_code == 202
    )
    wait_for(lambda: worker.runs["run-retry-1"].completion is not None, what="complete-run")
    time.sleep(1.0)
    attempts = worker.calls_to("complete-run")
    assert [c.status for c in attempts] == [503, 502, 200]
    assert attempts[0].body == attempts[1].body == attempts[2].body  # the same body every time
    assert attempts[2].at - attempts[0].at >= 0.3 * 0.9  # backed off 100 ms then 200 ms (+ jitter)
    assert worker.committed("run-retry-1")["output"] == "The answer."


def test_fatal_error_on_load_fails_the_run_without_any_model_or_tool_call(
    worker: FakeTakos, model_server: ModelServer, container: TakosContainer
) -> None:
    _two_tools(worker)
    run = worker.create_run("run-fatal-1", "Try again.")
    run.uncertain = True  # an earlier lease left an uncertain side effect in the operation ledger
    model_server.script([_tool_turn()])
    assert (
        worker.dispatch("run-fatal-1", container.url, model=MODEL, start_token=START_TOKEN).status_code == 202
    )
    wait_for(lambda: run.completion is not None, what="complete-run")
    done = worker.committed(run.run_id)
    assert (done["status"], done["error"]) == ("failed", UNCERTAIN)
    assert model_server.requests == [] and worker.executions == {} and not worker.calls_to("tool-execute")
    assert [(c.endpoint, c.status) for c in worker.calls if not 200 <= c.status < 300] == []


def test_an_uncertain_tool_outcome_stops_the_run(
    worker: FakeTakos, model_server: ModelServer, container: TakosContainer
) -> None:
    worker.add_tool(
        "send_note", side_effects=True, run=lambda args: {"output": "", "outcome_uncertain": True}
    )
    run = worker.create_run("run-uncertain-1", "Send it.")
    model_server.script(
        [Reply(tool_calls=[ToolCallReply("send_note", {"q": "x"}, id="call_u")]), Reply(text="no")]
    )
    assert (
        worker.dispatch("run-uncertain-1", container.url, model=MODEL, start_token=START_TOKEN).status_code
        == 202
    )
    wait_for(lambda: run.completion is not None, what="complete-run")
    done = worker.committed(run.run_id)
    assert (done["status"], done["error"]) == ("failed", UNCERTAIN)
    assert len(model_server.requests) == 1 and worker.executions["send_note"] == 1
    assert [(c.endpoint, c.status) for c in worker.calls if not 200 <= c.status < 300] == []


def test_an_empty_system_prompt_or_no_user_message_fails_the_run(
    worker: FakeTakos, model_server: ModelServer, container: TakosContainer
) -> None:
    worker.create_run("run-noprompt", "Hello?", system_prompt="")
    bare = worker.create_run("run-nomessage", "x")
    bare.history = [{"role": "assistant", "content": "earlier answer"}]
    for run_id in ("run-noprompt", "run-nomessage"):
        assert worker.dispatch(run_id, container.url, model=MODEL, start_token=START_TOKEN).status_code == 202
    wait_for(lambda: all(worker.runs[r].completion for r in ("run-noprompt", "run-nomessage")))
    assert worker.committed("run-noprompt")["status"] == "failed"
    assert "systemPrompt" in worker.committed("run-noprompt")["error"]
    assert "user message" in worker.committed("run-nomessage")["error"]
    assert model_server.requests == []


def test_a_model_failure_is_finalized_as_failed(
    worker: FakeTakos, model_server: ModelServer, container: TakosContainer
) -> None:
    run = worker.create_run("run-model-down", "Hello?")
    model_server.script([Fault(400, message="bad request")])
    assert (
        worker.dispatch("run-model-down", container.url, model=MODEL, start_token=START_TOKEN).status_code
        == 202
    )
    wait_for(lambda: run.completion is not None, what="complete-run")
    done = worker.committed(run.run_id)
    assert done["status"] == "failed" and done["output"] is None and done["error"]
    assert done["messages"][-1]["role"] == "assistant"
