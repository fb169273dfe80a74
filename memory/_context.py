"""Memory for the prompt: the same hybrid search, cut to a token budget (ranked, never silently mid-hit)."""

from __future__ import annotations

from collections.abc import Callable

from memory._models import SearchHit, SearchMode, SearchQuery
from memory._service import MemoryService


def approx_tokens(text: str) -> int:
    return max(1, len(text) // 4)


def format_hit(hit: SearchHit) -> str:
    when = hit.occurred_at.strftime("%Y-%m-%d") if hit.occurred_at else "?"
    who = f"{hit.speaker}: " if hit.speaker else ""
    return f"[{hit.id} {when} {hit.kind}] {who}{hit.text}"


async def memory_context(
    service: MemoryService,
    space_id: str,
    query: str,
    max_tokens: int,
    *,
    top_k: int = 8,
    mode: SearchMode = "hybrid",
    count_tokens: Callable[[str], int] = approx_tokens,
) -> list[SearchHit]:
    """Top hits for `query` whose formatted lines fit in `max_tokens`, best first."""
    if max_tokens <= 0 or not query.strip():
        return []
    result = await service.search(space_id, SearchQuery(query=query, top_k=top_k, mode=mode))
    out: list[SearchHit] = []
    used = 0
    for hit in result.hits:
        cost = count_tokens(format_hit(hit))
        if used + cost > max_tokens:
            continue  # a shorter, lower-ranked hit may still fit
        out.append(hit)
        used += cost
    return out


def render_memory_context(hits: list[SearchHit]) -> str:
    """The memory section's text: one line per hit, ids kept so the model can call provenance_lookup."""
    return "\n".join(format_hit(h) for h in hits)
