"""Issue 16 item 7: a model spec's credentials (URL userinfo, secret-looking query values) are never shown:
not on the unauthenticated /health, not in the start-up log, not in `run.started`, `run.get` or errors."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from agent.redaction import redact
from tests.server.conftest import make_server
from tests.support import rpc

SECRETS = ("hunter2pw", "SEKRETKEY", "TOK123", "SIGxyz", "alice")
SPEC = (
    "openai-compatible:m@http://alice:hunter2pw@127.0.0.1:9/v1"
    "?api-key=SEKRETKEY&token=TOK123&sig=SIGxyz&region=eu&X-Amz-Signature=SIGxyz"
)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("openai:gpt-4o-mini", "openai:gpt-4o-mini"),
        (
            "openai-compatible:llama@http://localhost:11434/v1",
            "openai-compatible:llama@http://localhost:11434/v1",
        ),
        ("openai-compatible:m@https://u:p@h/v1", "openai-compatible:m@https://***@h/v1"),
        ("x@http://h/v1?api-key=abc&model=q", "x@http://h/v1?api-key=***&model=q"),
        (
            "http://h/?password=a&Secret=b&access_token=c&n=1",
            "http://h/?password=***&Secret=***&access_token=***&n=1",
        ),
        ("see http://u:p@h:1/ and https://k@h2/?key=z", "see http://***@h:1/ and https://***@h2/?key=***"),
    ],
)
def test_redact(text: str, shown: str) -> None:
    assert redact(text) == shown


def test_model_credentials_are_never_shown(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for server in make_server(tmp_path, model=SPEC):
        health = server.client.get("/health").text
        run_id = server.client.post("/start", json={"input": "hi"}, headers=server.auth).json()["runId"]
        for _ in range(200):
            view = rpc(server.client, server.url, "run.get", {"runId": run_id}, headers=server.auth)["result"]
            if view["status"] in ("completed", "failed", "canceled"):
                break
            import time

            time.sleep(0.05)
        events = rpc(server.client, server.url, "run.events", {"runId": run_id}, headers=server.auth)[
            "result"
        ]
        started = next(e for e in events["events"] if e["type"] == "run.started")
        assert started["data"]["model"].startswith("openai-compatible:m@http://***@127.0.0.1:9/v1")
        assert "region=eu" in started["data"]["model"]
        shown = "\n".join([health, str(view), str(events), caplog.text])
        for secret in SECRETS:
            assert secret not in shown, secret
        assert "***" in health and view["model"] == started["data"]["model"]
