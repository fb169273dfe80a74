"""Storage health: whether DATA_DIR can take writes, for /health, /start admission and the commit path.

A full disk must not fail a run with a misleading error or lose what was committed. SQLite reports it as
SQLITE_FULL ("database or disk is full") and rolls the transaction back; the run's events stay buffered and
its commit is retried until space returns (see `agent/runtime/commits.py`). This object remembers that the
disk is full (logged once per outage, not once per retry), measures free space (statvfs, cheap), and says
why new runs are refused: below MIN_FREE_DISK_MB free, or while writes are failing.
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from control_bridge.wire import WireModel

logger = logging.getLogger(__name__)

FULL_MESSAGE = "database or disk is full"


def is_storage_full(exc: BaseException) -> bool:
    """SQLITE_FULL (or the OS's ENOSPC surfacing as it), the one storage failure that waiting can cure."""
    if isinstance(exc, sqlite3.OperationalError):
        return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or FULL_MESSAGE in str(exc)
    return isinstance(exc, OSError) and exc.errno == 28  # ENOSPC


class StorageHealth(WireModel):
    ok: bool
    free_bytes: int | None
    reason: str | None = None


@dataclass
class StorageStatus:
    path: Path
    min_free_bytes: int = 50 * 1024 * 1024
    wait_s: float = 30.0
    """How long a run's commit waits for space before the run is failed (its terminal event is then written
    as soon as space returns)."""
    full_since: float | None = field(default=None, init=False)
    closing: bool = field(default=False, init=False)
    """Shutting down: commits stop waiting (the run resumes from its last commit after the restart)."""

    def record_full(self, exc: BaseException) -> None:
        if self.full_since is None:
            self.full_since = time.monotonic()
            logger.error(
                "storage under %s is full (%s): commits wait for space (runs fail after %.0f s); "
                "new runs are refused until it frees",
                self.path,
                exc,
                self.wait_s,
            )

    def record_ok(self) -> None:
        if self.full_since is not None:
            logger.warning(
                "storage under %s is writable again after %.1f s",
                self.path,
                time.monotonic() - self.full_since,
            )
            self.full_since = None

    def free_bytes(self) -> int | None:
        try:
            return shutil.disk_usage(self.path).free
        except OSError:
            return None

    def health(self) -> StorageHealth:
        free = self.free_bytes()
        if self.full_since is not None:
            return StorageHealth(
                ok=False, free_bytes=free, reason=f"{FULL_MESSAGE}: writes under {self.path} are failing"
            )
        if free is not None and free < self.min_free_bytes:
            return StorageHealth(
                ok=False,
                free_bytes=free,
                reason=(
                    f"only {free // (1024 * 1024)} MiB free under {self.path}, below MIN_FREE_DISK_MB="
                    f"{self.min_free_bytes // (1024 * 1024)}"
                ),
            )
        return StorageHealth(ok=True, free_bytes=free)
