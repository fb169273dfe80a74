"""How skills look inside the prompt. Selection measures exactly these strings, so budgets hold end to end."""

from __future__ import annotations

import re

from skills.model import Skill

LISTING_DESCRIPTION_CHARS = 180
_CJK = re.compile(r"[\u3000-\u9fff\uff00-\uffef]")


def approx_tokens(text: str) -> int:
    """A dependency-free token estimate (≈4 characters per token, one per CJK character).

    Callers that own a real tokenizer (the prompt builder) pass theirs to `select_skills` instead.
    """
    cjk = len(_CJK.findall(text))
    return cjk + (len(text) - cjk + 3) // 4


def shorten(text: str, limit: int) -> str:
    """Cuts at a word boundary and marks the cut with an ellipsis (never silently)."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,.;:、。") + "…"


def render_skill_block(skill: Skill) -> str:
    """The activated-skill section for one skill: heading, contract hints, then the instructions."""
    lines = [f"### Skill: {skill.display_name} (`{skill.id}`, {skill.source})"]
    contract = skill.contract
    if contract.preferred_tools:
        lines.append("Preferred tools: " + ", ".join(contract.preferred_tools))
    if contract.output_modes:
        lines.append("Output modes: " + ", ".join(contract.output_modes))
    if contract.durable_output_hints:
        lines.append("Durable output: " + "; ".join(contract.durable_output_hints))
    if contract.template_ids:
        lines.append("Templates: " + ", ".join(contract.template_ids))
    if skill.availability.status == "warning":
        lines.append("Note: " + "; ".join(skill.availability.reasons))
    lines.append("")
    lines.append(skill.instructions.strip())
    return "\n".join(lines)


def render_listing_line(skill: Skill) -> str:
    """One line of the available-skill listing."""
    description = shorten(skill.description, LISTING_DESCRIPTION_CHARS)
    return f"- `{skill.id}` ({skill.source}, {skill.category}): {description}"
