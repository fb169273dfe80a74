"""Issue 16 item 10: a run's `scripted:` model reads only files in SCRIPTS_DIR; a refusal reads the same
whether the file exists or not, and no error quotes a file's contents."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.server.conftest import Server, make_server
from tests.support import rpc


def _wait(server: Server, run_id: str) -> dict:
    for _ in range(400):
        view = rpc(server.client, server.url, "run.get", {"runId": run_id}, headers=server.auth)["result"]
        if view["status"] in ("completed", "failed", "canceled"):
            return view
        time.sleep(0.05)
    raise AssertionError("run did not finish")


@pytest.fixture
def layout(tmp_path: Path) -> dict[str, Path]:
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "ok.json").write_text(json.dumps({"turns": [{"text": "scripted hello"}]}))
    (scripts / "bad.json").write_text('{"turns": "notalist-SECRETCONTENT"}')
    (scripts / "garbage.json").write_text("SECRETCONTENT not json")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "private.json").write_text(json.dumps({"turns": [{"text": "SECRETCONTENT"}]}))
    (outside / "notalist.json").write_text('{"turns": "notalist"}')
    (scripts / "link.json").symlink_to(outside / "private.json")
    return {"scripts": scripts, "outside": outside}


def _start(server: Server, model: str) -> tuple[int, str]:
    r = server.client.post("/start", json={"input": "hi", "model": model}, headers=server.auth)
    return r.status_code, r.text


def test_scripts_outside_the_directory_are_refused_alike(tmp_path: Path, layout: dict[str, Path]) -> None:
    outside = layout["outside"]
    for server in make_server(tmp_path, scripts_dir=layout["scripts"]):
        refusals = {}
        for target in (
            outside / "private.json",
            outside / "notalist.json",
            outside / "missing.json",
            Path("/etc/passwd"),
            Path("/etc/does-not-exist"),
            layout["scripts"] / "link.json",
            layout["scripts"] / ".." / "outside" / "private.json",
            layout["scripts"] / "missing.json",
        ):
            status, text = _start(server, f"scripted:{target}")
            assert status == 400, (target, text)
            refusals[target] = json.loads(text)["detail"].replace(str(target), "PATH")
            assert (
                "SECRETCONTENT" not in text
                and "root:" not in text
                and "notalist" not in text.replace("notalist.json", "")
            )
            reply = rpc(
                server.client,
                server.url,
                "run.start",
                {"input": "hi", "model": f"scripted:{target}"},
                headers=server.auth,
            )
            assert reply["error"]["code"] == -32602
        assert len(set(refusals.values())) == 1, refusals  # no existence oracle
        assert not server.services.manager.runs


def test_scripts_inside_the_directory_run_and_bad_ones_are_not_quoted(
    tmp_path: Path, layout: dict[str, Path]
) -> None:
    for server in make_server(tmp_path, scripts_dir=layout["scripts"]):
        status, text = _start(server, "scripted:ok.json")
        assert status == 202, text
        view = _wait(server, json.loads(text)["runId"])
        assert (view["status"], view["output"]) == ("completed", "scripted hello")
        for name in ("bad.json", "garbage.json"):
            status, text = _start(server, f"scripted:{layout['scripts'] / name}")
            assert status == 202, text
            view = _wait(server, json.loads(text)["runId"])
            assert view["status"] == "failed"
            shown = json.dumps(view)
            assert "not a valid script" in shown
            assert (
                "SECRETCONTENT" not in shown and "Expecting value" not in shown and "input_value" not in shown
            )


def test_without_scripts_dir_per_run_scripts_are_refused(tmp_path: Path, layout: dict[str, Path]) -> None:
    for server in make_server(tmp_path, scripts_dir=None):
        status, text = _start(server, f"scripted:{layout['scripts'] / 'ok.json'}")
        assert status == 400 and "SCRIPTS_DIR" in text


def test_the_operators_model_may_name_any_file(tmp_path: Path, layout: dict[str, Path]) -> None:
    spec = f"scripted:{layout['outside'] / 'private.json'}"
    for server in make_server(tmp_path, scripts_dir=None, model=spec):
        r = server.client.post("/start", json={"input": "hi"}, headers=server.auth)
        assert r.status_code == 202
        assert _wait(server, r.json()["runId"])["output"] == "SECRETCONTENT"
