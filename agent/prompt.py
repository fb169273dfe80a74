"""The prompt builder: every section with its own token budget, and a ledger of what each one cost.

Sections, in order: system core (or the control plane's system prompt), tool rules, agent-type mode,
time-budget reminder, activated skills, available-skill listing, memory context, then the trimmed history
(whole turns, newest kept) and the user message. Nothing is dropped silently: whatever does not fit is
replaced by a line that says what was left out and which tool finds it. The ledger is the `prompt.rendered`
event's payload, and its values add up to `total_tokens`.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from agent._prompt_sections import SYSTEM_CORE, memory_line, mode_section, time_section, tool_section
from agent.models.types import Message, TextPart, ThinkingPart, ToolDefinition, ToolResultPart, ToolUsePart
from agent.tokenizer import HeuristicTokenizer, Tokenizer, truncate_to
from skills import Skill, render_listing_line, render_skill_block

__all__ = [
    "MESSAGE_OVERHEAD",
    "SECTIONS",
    "SYSTEM_CORE",
    "BuiltPrompt",
    "PromptInputs",
    "SectionBudgets",
    "build_prompt",
    "message_tokens",
    "split_turns",
]

SECTIONS = (
    "system_core",
    "tool_rules",
    "agent_mode",
    "time_budget",
    "skills_active",
    "skills_listing",
    "memory",
    "history",
    "user_message",
    "overhead",
)
MESSAGE_OVERHEAD = 4
"""Tokens a provider spends framing each message (role markers); counted in the `overhead` section."""
HISTORY_NOTE_ROOM = 48


class SectionBudgets(BaseModel):
    """Per-section token budgets. A float ≤ 1 is a fraction of the usable window (window minus the output
    reserve); an int is an absolute number of tokens. History gets what is left, up to its own budget."""

    model_config = ConfigDict(extra="forbid")

    output_reserve: int | float = 0.15
    system_core: int | float = 0.10
    tool_rules: int | float = 0.03
    agent_mode: int | float = 0.02
    time_budget: int | float = 200
    skills_active: int | float = 0.15
    skills_listing: int | float = 0.05
    memory: int | float = 0.08
    user_message: int | float = 0.25
    history: int | float = 1.0

    def resolve(self, context_window: int) -> dict[str, int]:
        def size(value: int | float, base: int) -> int:
            return int(value * base) if isinstance(value, float) and value <= 1.0 else int(value)

        reserve = size(self.output_reserve, context_window)
        usable = max(0, context_window - reserve)
        resolved = {name: size(getattr(self, name), usable) for name in SECTIONS if name != "overhead"}
        resolved["output_reserve"] = reserve
        resolved["usable"] = usable
        return resolved


class PromptInputs(BaseModel):
    """Everything the builder needs for one model call. `memory_hits` are dicts `{id, text, kind, occurredAt}`
    or models with those fields (e.g. `memory.SearchHit`)."""

    model_config = ConfigDict(extra="forbid")

    system_prompt: str | None = None
    tools: list[ToolDefinition] = Field(default_factory=list)
    agent_type: str = "default"
    locale: str = "en"
    remaining_s: float | None = None
    total_s: float | None = None
    reminder: str | None = None
    """A reminder the run loop already wrote (time left, finalization notice). When set it is the time-budget
    section's text, so the loop keeps ownership of once-only notices; otherwise the text is computed here."""
    activated_skills: list[Skill] = Field(default_factory=list)
    skill_listing: list[Skill] = Field(default_factory=list)
    skills_not_listed: int = 0
    """Available skills left out of `skill_listing` upstream (selection's `unlisted_count`)."""
    memory_hits: list[Any] = Field(default_factory=list)
    history: list[Message] = Field(default_factory=list)
    user_message: str = ""
    context_window: int = 128_000
    budgets: SectionBudgets = Field(default_factory=SectionBudgets)


class BuiltPrompt(BaseModel):
    """The messages to send plus the ledger: tokens per section, summing to `total_tokens`."""

    messages: list[Message]
    ledger: dict[str, int]
    total_tokens: int
    budgets: dict[str, int]
    omitted: dict[str, Any] = Field(default_factory=dict)
    """What did not fit, by section (e.g. history turns, listing entries, memory hits, skill ids)."""


def message_tokens(message: Message, tokenizer: Tokenizer) -> int:
    """Tokens of a message's content (framing overhead is counted separately)."""
    total = 0
    for part in message.parts:
        if isinstance(part, TextPart):
            total += tokenizer.count(part.text)
        elif isinstance(part, ThinkingPart):
            total += tokenizer.count(part.thinking)
        elif isinstance(part, ToolUsePart):
            total += tokenizer.count(part.name) + tokenizer.count(
                part.raw_arguments or json.dumps(part.arguments)
            )
        elif isinstance(part, ToolResultPart):
            total += tokenizer.count(part.content)
    return total


def split_turns(history: list[Message]) -> list[list[Message]]:
    """Whole turns: each user message starts one; tool calls stay with their results."""
    turns: list[list[Message]] = []
    for message in history:
        if message.role == "user" or not turns:
            turns.append([])
        turns[-1].append(message)
    return turns


class _Fit:
    """Fits text into a section budget, cutting with a visible marker instead of silently."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        self.tokenizer = tokenizer

    def clip(self, text: str, budget: int, what: str) -> tuple[str, bool]:
        if self.tokenizer.count(text) <= budget:
            return text, False
        marker = f"\n[… {what} shortened to fit its token budget …]"
        keep = truncate_to(self.tokenizer, text, max(0, budget - self.tokenizer.count(marker)))
        return (keep + marker if keep else ""), True


def _fit_lines(
    tokenizer: Tokenizer, header: str, lines: list[str], budget: int, more: Any
) -> tuple[str, int]:
    """Header plus as many lines as fit, in order, then the `more(n)` line for the rest. Returns the text and
    the number of lines left out. The closing line is always kept, so an omission is never silent."""
    if not lines and not more(0):
        return "", 0
    count = tokenizer.count
    used = count(header)
    kept: list[str] = []
    for index, line in enumerate(lines):
        cost = count(line)
        closing = more(len(lines) - index - 1)
        if used + cost + (count(closing) if closing else 0) > budget:
            break
        kept.append(line)
        used += cost
    left = len(lines) - len(kept)
    tail = more(left)
    return "\n".join([header, *kept, *([tail] if tail else [])]), left


def build_prompt(inputs: PromptInputs, tokenizer: Tokenizer | None = None) -> BuiltPrompt:
    """Assembles the messages for one model call within `inputs.context_window`.

    Returns the system message (all prompt sections), the kept history turns and the user message, with the
    token ledger per section.
    """
    tok = tokenizer or HeuristicTokenizer()
    budgets = inputs.budgets.resolve(inputs.context_window)
    fit = _Fit(tok)
    omitted: dict[str, Any] = {}
    texts: dict[str, str] = {}

    core = inputs.system_prompt if inputs.system_prompt and inputs.system_prompt.strip() else SYSTEM_CORE
    texts["system_core"], cut = fit.clip(core, budgets["system_core"], "system prompt")
    if cut:
        omitted["system_core"] = "truncated"
    texts["tool_rules"], _ = fit.clip(tool_section(inputs.tools), budgets["tool_rules"], "tool rules")
    texts["agent_mode"], _ = fit.clip(
        mode_section(inputs.agent_type, inputs.locale), budgets["agent_mode"], "mode"
    )
    texts["time_budget"], _ = fit.clip(
        (
            f"## Time budget\n{inputs.reminder.strip()}"
            if inputs.reminder and inputs.reminder.strip()
            else time_section(inputs.remaining_s, inputs.total_s)
        ),
        budgets["time_budget"],
        "time budget",
    )

    # Activated skills: whole bodies in rank order; one that does not fit is named, not cut. Room for the
    # notes of every later skill is held back, so the section can never outgrow its budget.
    header = "## Active skills\nThese skills were selected for this request. Follow their instructions."
    active = inputs.activated_skills
    notes = [
        f"- `{s.id}`: selected but left out for space; load it with skill_get if you need it." for s in active
    ]
    note_costs = [tok.count(n) for n in notes]
    used = tok.count(header) if active else 0
    blocks: list[str] = []
    skipped: list[int] = []
    for index, skill in enumerate(active):
        block = render_skill_block(skill)
        cost = tok.count(block)
        held_back = sum(note_costs[i] for i in skipped) + sum(note_costs[index + 1 :])
        if used + cost + held_back <= budgets["skills_active"]:
            blocks.append(block)
            used += cost
        else:
            skipped.append(index)
    if skipped:
        omitted["skills_active"] = [active[i].id for i in skipped]
    skipped_text = ["\n".join(notes[i] for i in skipped)] if skipped else []
    texts["skills_active"] = "\n\n".join([header, *blocks, *skipped_text]) if active else ""

    # Listing: as many one-liners as fit, then how many more exist and how to find them.
    listing = inputs.skill_listing
    upstream = inputs.skills_not_listed

    def more_skills(left: int) -> str:
        total = left + upstream
        if not total:
            return ""
        return (
            f"…and {total} more available skill{'s' if total != 1 else ''} not shown here "
            f"({len(listing) + upstream} in all). Find them with skill_list (filter by category, source or query) "
            "or skill_catalog."
        )

    texts["skills_listing"], left = _fit_lines(
        tok,
        '## Other available skills\nLoad one with skill_get {"skill_id": …} when the task matches it.',
        [render_listing_line(s) for s in listing],
        budgets["skills_listing"],
        more_skills,
    )
    if left or upstream:
        omitted["skills_listing"] = left + upstream

    hits = inputs.memory_hits
    texts["memory"], left = _fit_lines(
        tok,
        "## Memory\nPossibly relevant notes from earlier conversations (verify before relying on them):",
        [memory_line(h) for h in hits],
        budgets["memory"],
        lambda n: f"…{n} more memory hits not shown; use semantic_search_memory to see them." if n else "",
    )
    if left:
        omitted["memory"] = left

    user_text, cut = fit.clip(inputs.user_message, budgets["user_message"], "user message")
    if cut:
        omitted["user_message"] = "truncated"
    user_tokens = tok.count(user_text)

    # History gets what is left (up to its own budget): whole turns, newest first.
    fixed = sum(tok.count(texts[name]) for name in texts)
    turns = split_turns(inputs.history)
    overhead_fixed = MESSAGE_OVERHEAD * 2  # the system message and the user message
    room = min(budgets["history"], budgets["usable"] - fixed - user_tokens - overhead_fixed)
    room -= HISTORY_NOTE_ROOM if turns else 0  # the "N earlier turns were left out" line always fits
    kept: list[list[Message]] = []
    history_used = 0
    for turn in reversed(turns):
        cost = sum(message_tokens(m, tok) + MESSAGE_OVERHEAD for m in turn)
        if history_used + cost > room:
            break
        kept.insert(0, turn)
        history_used += cost
    dropped = len(turns) - len(kept)
    note = ""
    if dropped:
        omitted["history_turns"] = dropped
        note = (
            f"## Earlier conversation\n{dropped} earlier turn{'s' if dropped != 1 else ''} of this conversation "
            "were left out to fit the context window; search memory if you need them."
        )
    history_messages = [m for turn in kept for m in turn]

    system_sections = SECTIONS[
        : SECTIONS.index("memory") + 1
    ]  # everything before history goes in the system message
    system_parts = [texts[name] for name in system_sections if texts[name]] + ([note] if note else [])
    system_text = "\n\n".join(system_parts)
    messages = [Message.text("system", system_text), *history_messages, Message.text("user", user_text)]

    ledger = {name: tok.count(texts[name]) for name in system_sections}
    ledger["history"] = tok.count(note) + sum(message_tokens(m, tok) for m in history_messages)
    ledger["user_message"] = user_tokens
    ledger["overhead"] = MESSAGE_OVERHEAD * len(messages)
    return BuiltPrompt(
        messages=messages,
        ledger=ledger,
        total_tokens=sum(ledger.values()),
        budgets=budgets,
        omitted=omitted,
    )
