"""Issue 16 item 14: a damaged or unwritable DATA_DIR never means a silent loss or a raw traceback."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.events.log import RunLog
from agent.events.payloads import PhaseChanged
from agent.localdb import LocalDB
from tests.durability.procs import ContainerProc
from tests.server.conftest import make_server
from tests.support import free_port, rpc, tmpfs

RUNS = 20


def make_runs_db(data_dir: Path) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    db = LocalDB(data_dir / "runs.db")
    log = RunLog(db)

    async def fill() -> None:
        for r in range(RUNS):
            for _ in range(200):
                log.append(f"run{r}", PhaseChanged(from_="planning", to="executing_tools"))
            await log.commit(f"run{r}")

    asyncio.run(fill())
    db.checkpoint()
    db.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{data_dir / 'runs.db'}{suffix}").unlink(missing_ok=True)
    return data_dir / "runs.db"


def serve(data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "VIRTUAL_ENV", "TMPDIR")},
        "DATA_DIR": str(data_dir),
        "START_TOKEN": "t" * 24,
        "HOST": "127.0.0.1",
        "PORT": str(free_port()),
        "MEMORY_EMBEDDER": "hash",
        "HF_HUB_OFFLINE": "1",
    }
    return subprocess.run(
        [sys.executable, "-m", "agent.cli", "serve"], env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("damage", ["truncated", "not a database"])
def test_a_damaged_runs_db_stops_with_one_line(tmp_path: Path, damage: str) -> None:
    path = make_runs_db(tmp_path / "data")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"garbage!" * 512)
    done = serve(tmp_path / "data")
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("agent: ") and str(path) in last and "restore it from a backup" in last


def test_a_zero_byte_runs_db_starts_with_a_loud_warning(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "runs.db").write_bytes(b"")
    container = ContainerProc(data_dir)
    try:
        assert container.client.get("/health").status_code == 200
    finally:
        container.stop()
    err = container.proc.stderr.read().decode() if container.proc.stderr else ""
    assert "WARNING" in err and f"{data_dir / 'runs.db'} is empty (0 bytes)" in err


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    with tmpfs(tmp_path / "ro", "ro,size=1m", "a read-only tmpfs") as mount:
        yield mount


def test_a_read_only_data_dir_stops_with_one_line(read_only_dir: Path) -> None:
    done = serve(read_only_dir)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("agent: DATA_DIR ") and str(read_only_dir) in last and "not writable" in last


def test_garbage_mid_file_is_a_typed_error_on_run_events(tmp_path: Path) -> None:
    path = make_runs_db(tmp_path / "data")
    data = bytearray(path.read_bytes())
    page = 4096
    for offset in range(len(data) * 2 // 5 // page * page, len(data) * 3 // 5, page):
        data[offset : offset + page] = os.urandom(page)
    path.write_bytes(bytes(data))
    for server in make_server(tmp_path):
        codes = []
        for r in range(RUNS):
            reply = rpc(
                server.client,
                server.url,
                "run.events",
                {"runId": f"run{r}", "limit": 1000},
                headers=server.auth,
            )
            if "error" in reply:
                codes.append(reply["error"]["code"])
                if reply["error"]["code"] == -32050:
                    assert reply["error"]["data"]["type"] == "storage_damaged"
                    assert "runs.db" in reply["error"]["message"] and "restore" in reply["error"]["message"]
        assert -32603 not in codes
        assert -32050 in codes
