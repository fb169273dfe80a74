"""Issue 16 item 18: with MODEL set to a scripted model, the start-up log does not claim MODEL is unset."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from tests.server.conftest import make_server


def test_scripted_model_is_named_as_such(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    script = tmp_path / "demo.json"
    script.write_text(json.dumps({"turns": [{"text": "hi"}]}))
    caplog.set_level(logging.INFO, logger="agent.server")
    for server in make_server(tmp_path, model=f"scripted:{script}"):
        assert server.client.get("/health").json()["languageModel"] is False
    lines = [
        r.getMessage() for r in caplog.records if r.name == "agent.server" and "model:" in r.getMessage()
    ]
    assert len(lines) == 1, lines
    assert "set MODEL" not in lines[0] and "no language model is configured" not in lines[0]
    assert "scripted" in lines[0] and "not a language model" in lines[0]


def test_unset_model_still_says_so(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="agent.server")
    for _server in make_server(tmp_path):
        pass
    assert any("set MODEL" in r.getMessage() for r in caplog.records if r.name == "agent.server")
