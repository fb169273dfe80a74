"""A run launched as Takos's executor host launches one, against the fake Worker, end to end."""

from __future__ import annotations

import time

from agent.models.fake_server import ModelServer, Reply, ToolCallReply
from tests.takos.conftest import START_TOKEN, TakosContainer
from tests.takos.fake_worker import FakeTakos


def wait_for(predicate, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_full_run_with_a_read_only_and_a_side_effecting_tool(
    worker: FakeTakos, model_server: ModelServer, container: TakosContainer
) -> None:
    worker.add_tool("lookup", side_effects=False)
    worker.add_tool("send_note", side_effects=True)
    worker.create_run("run-full-1", "Look up the weather and send a note.")
    model_server.script(
        [
            Reply(
                text="Let me check.",
                tool_calls=[
                    ToolCallReply("lookup", {"q": "weather"}, id="call_a"),
                    ToolCallReply("send_note", {"q": "sunny"}, id="call_b"),
                ],
                input_tokens=100,
                output_tokens=10,
                cached_input_tokens=20,
            ),
            Reply(text="It is sunny; I sent the note.", input_tokens=150, output_tokens=12),
        ]
    )
    answer = worker.dispatch("run-full-1", container.url, start_token=START_TOKEN)
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["runtimeProtocolVersion"] == 2 and body["accepted"] is True and body["runId"] == "run-full-1"
    run = worker.runs["run-full-1"]
    wait_for(lambda: run.completion is not None)
    time.sleep(0.3)
    bad = [(c.endpoint, c.status, c.body) for c in worker.calls if not 200 <= c.status < 300]
    assert bad == [], bad
    print([c.endpoint for c in worker.calls])
    print(run.events)
    print(run.completion)
