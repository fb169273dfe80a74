from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.runtime.harness import Harness


@pytest.fixture
async def harness_factory(tmp_path: Path) -> AsyncIterator[Callable[..., Harness]]:
    made: list[Harness] = []

    def make(model: Any, tools: list[Any] | None = None, **kw: Any) -> Harness:
        h = Harness(tmp_path / f"h{len(made)}", model, tools, **kw)
        made.append(h)
        return h

    yield make
    for h in made:
        await h.close()
