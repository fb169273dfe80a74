from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.durability.procs import ControlPlaneProc


@pytest.fixture
def plane(tmp_path: Path) -> Iterator[ControlPlaneProc]:
    """The reference control plane as a subprocess, on tmp_path."""
    cp = ControlPlaneProc(tmp_path)
    yield cp
    cp.stop()
