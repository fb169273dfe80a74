"""Checks before the server starts: DATA_DIR writable, runs.db readable. One line on failure, never a trace.

A damaged or unreachable data directory must stop the server with a message that names the path and says
what to do, or start it with a loud warning, and never start silently with the history gone: a zero-byte
runs.db (a truncation, a bad restore) is an empty database to SQLite, so it is reported loudly.
"""

from __future__ import annotations

import logging
import sqlite3
import sys
import tempfile
from pathlib import Path

logger = logging.getLogger("agent.preflight")


class PreflightError(RuntimeError):
    """The server cannot start on this DATA_DIR; the message is the one line to print."""


def check_data_dir(data_dir: Path) -> list[str]:
    """Raises PreflightError when the server cannot start; returns the warnings it should start with."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=data_dir, prefix=".write-check-"):
            pass
    except OSError as exc:
        raise PreflightError(
            f"DATA_DIR {data_dir} is not writable ({exc.strerror or exc}): mount it read-write, or point "
            "DATA_DIR at a writable directory"
        ) from None
    warnings: list[str] = []
    runs = data_dir / "runs.db"
    if runs.exists() and runs.stat().st_size == 0 and not Path(f"{runs}-wal").exists():
        warnings.append(
            f"{runs} is empty (0 bytes): the run log and checkpoints of earlier runs are not in it. If it was "
            "truncated, stop the server and restore it from a backup; starting with an empty run log"
        )
    if runs.exists() and runs.stat().st_size > 0:
        _check_database(runs)
    return warnings


def _check_database(path: Path) -> None:
    """A quick read of the schema and the tables' roots: a file that is not a database, or one cut short,
    fails here rather than as a traceback inside the server."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            conn.execute("PRAGMA schema_version").fetchone()
            for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall():
                conn.execute(f'SELECT 1 FROM "{name}" LIMIT 1').fetchall()
            size = path.stat().st_size
            pages, page_size = (
                conn.execute(f"PRAGMA {p}").fetchone()[0] for p in ("page_count", "page_size")
            )
            if not Path(f"{path}-wal").exists() and pages * page_size > size:
                raise sqlite3.DatabaseError(f"the file is shorter ({size} bytes) than its header says")
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise PreflightError(
            f"{path} is damaged ({exc}): restore it from a backup, or move it aside to start with an empty "
            f"run log (the history of earlier runs is in that file)"
        ) from None


def report(warnings: list[str]) -> None:
    for warning in warnings:
        logger.error("WARNING: %s", warning)
        print(f"agent: WARNING: {warning}", file=sys.stderr, flush=True)


def preflight(data_dir: Path) -> None:
    """`agent serve`: exits with one line, or starts after printing the warnings."""
    try:
        warnings = check_data_dir(data_dir)
    except PreflightError as exc:
        raise SystemExit(f"agent: {exc}") from None
    report(warnings)
