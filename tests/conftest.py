"""Project-wide test safety: a clean environment and no real model requests."""

from __future__ import annotations

import os

import pytest

_KEEP = {
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "TMPDIR",
    "VIRTUAL_ENV",
    "PYTHONPATH",
    "HF_HUB_OFFLINE",
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
    "SYSTEMROOT",
    "CI",
}


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never see the developer's MODEL, keys or tokens (like httpx's clean_environ)."""
    for name in list(os.environ):
        if name not in _KEEP:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
