"""The per-run context: skills ranked by meaning once a sentence model is warm, never before."""

from __future__ import annotations

from typing import Any

import numpy as np

from agent.models.types import Message
from agent.runcontext import RunContextFactory
from agent.runtime.state import RunState
from control_bridge import contract as c
from skills import load_official_catalog


class FakeEmbedder:
    def __init__(self, loaded: bool) -> None:
        self.loaded = loaded
        self.calls: list[list[str]] = []

    def embed_sync(self, texts: list[str]) -> np.ndarray:
        self.calls.append(texts)
        rng = np.random.default_rng(len(texts))
        return rng.standard_normal((len(texts), 8)).astype(np.float32)


class FakeMemory:
    def __init__(self, loaded: bool) -> None:
        self.embedder = FakeEmbedder(loaded)


class NoRuntime:
    async def skills_runtime_context(self, params: Any) -> c.SkillsRuntimeContextResult:
        return c.SkillsRuntimeContextResult()


def factory() -> RunContextFactory:
    return RunContextFactory(
        official_skills=load_official_catalog(),
        memory=None,
        context_window=32_000,
        agent_tools=[],
        create_run=None,
    )


def state(text: str = "please research solar panels") -> RunState:
    s = RunState(run_id="r", session_id="s", thread_id="t", input=text)
    s.transcript = [Message.text("user", s.input)]
    return s


async def test_similarity_is_used_only_when_the_model_is_warm() -> None:
    f = factory()
    cold, warm = FakeMemory(loaded=False), FakeMemory(loaded=True)
    vague = "the blue one, you know"  # no word and no example decides: meaning may stand in
    await f._skills(state(vague), NoRuntime(), [], cold)  # type: ignore[arg-type]
    assert cold.embedder.calls == []
    await f._skills(state(vague), NoRuntime(), [], warm)  # type: ignore[arg-type]
    assert warm.embedder.calls, "a warm sentence model is asked for similarities"
    # a trigger decides on its own: the model is not asked again, and the choice is the same cold or warm
    asked = len(warm.embedder.calls)
    chosen_cold = await f._skills(state(), NoRuntime(), [], cold)  # type: ignore[arg-type]
    chosen_warm = await f._skills(state(), NoRuntime(), [], warm)  # type: ignore[arg-type]
    assert len(warm.embedder.calls) == asked and cold.embedder.calls == []
    ids = {s.id for s in chosen_cold.selection.activated}
    assert "research-brief" in ids and "research-brief" in {s.id for s in chosen_warm.selection.activated}
