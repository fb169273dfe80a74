"""Bad configuration stops the server with a message naming the variable; logs are JSON with run ids."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import pytest

from agent.logs import JsonFormatter, run_context


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"PORT": "eighty"}, "PORT"),
        ({"MAX_CONCURRENT_RUNS": "0"}, "MAX_CONCURRENT_RUNS"),
        ({"START_TOKEN": "short"}, "START_TOKEN"),
        ({"MODEL": "nonsense:thing"}, "MODEL"),
        ({"CONTROL_RPC_URL": "ftp://x"}, "CONTROL_RPC_URL"),
    ],
)
def test_bad_configuration_is_a_clear_error(env: dict[str, str], named: str, tmp_path) -> None:
    port = [] if "PORT" in env else ["--port", "0"]  # --port would override the bad PORT
    proc = subprocess.run(
        [sys.executable, "-m", "agent.cli", "serve", *port],
        env={**os.environ, "DATA_DIR": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode != 0
    assert named in proc.stderr or named.lower() in proc.stderr.lower()
    assert "Traceback" not in proc.stderr
    assert env.get("START_TOKEN", "\0") not in proc.stderr, "a token value is never echoed"


def test_json_logs_carry_the_run_ids() -> None:
    token = run_context.set({"runId": "run-1", "sessionId": "ses-1"})
    try:
        record = logging.LogRecord("agent", logging.INFO, __file__, 1, "step %d done", (3,), None)
        line = json.loads(JsonFormatter().format(record))
    finally:
        run_context.reset(token)
    assert line["runId"] == "run-1" and line["sessionId"] == "ses-1"
    assert line["msg"] == "step 3 done" and line["level"] == "INFO"


def test_keys_and_tokens_are_secret_values_never_shown() -> None:
    from agent.settings import Settings

    token, key = "tok-" + "s" * 20, "sk-" + "k" * 20
    settings = Settings.from_env(
        {"START_TOKEN": token, "OPENAI_API_KEY": key, "CONTROL_RPC_TOKEN": "cp-secret"}
    )
    shown = repr(settings) + str(settings) + settings.model_dump_json()
    assert token not in shown and key not in shown and "cp-secret" not in shown
    assert settings.secret("start_token") == token and settings.provider_keys() == {"openai": key}
