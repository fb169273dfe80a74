from __future__ import annotations

from memory import MemoryService, memory_context, render_memory_context


async def test_memory_context_respects_the_token_budget(service: MemoryService) -> None:
    await service.write(
        "sp",
        {
            "episodes": [
                {"text": f"release {i} shipped the search feature " + "detail " * (10 * i)} for i in range(6)
            ]
        },
    )
    everything = await memory_context(service, "sp", "search feature release", max_tokens=10_000)
    assert len(everything) == 6
    small = await memory_context(service, "sp", "search feature release", max_tokens=60)
    assert 0 < len(small) < 6
    text = render_memory_context(small)
    assert len(text) // 4 <= 60 + len(small)
    assert all(line.startswith("[ep:") for line in text.splitlines())
    assert await memory_context(service, "sp", "search", max_tokens=0) == []
