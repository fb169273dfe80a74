"""The fixed texts of the prompt and the renderers of its small sections (kept apart from the builder)."""

from __future__ import annotations

from typing import Any

from agent.models.types import ToolDefinition

WRAP_UP_AT = 0.8
"""Share of the time budget after which the reminder asks the model to wrap up."""
MEMORY_HIT_CHARS = 400

SYSTEM_CORE = """You are an agent working inside a containerised agent platform. You plan, call tools, read their \
results and continue until the user's request is done, then answer.
- Be accurate: say what you verified and what you assume. Never invent tool results, sources or file contents.
- Be efficient: prefer one well-chosen tool call over many speculative ones; stop when the task is done.
- Ask the user only when a missing answer would make the result wrong; otherwise state your assumption.
- Answer in the user's language, concisely, with the result first."""

TOOL_RULES = """## Tool use
- Call tools only with arguments that match their JSON Schema. Tools without side effects may be called together.
- A failed call comes back as a tool result with `kind` and `hint`: on `correct_call` fix the arguments and retry \
once; on `replan` choose another approach; on `finish` stop calling tools and answer with what you have.
- Do not repeat an identical failing call. Some tools need the user's confirmation; a denial is final for that call."""
SKILL_TOOL_RULE = (
    "- Skills: `skill_get` loads a skill's instructions, `skill_list`/`skill_catalog` find more skills."
)
MEMORY_TOOL_RULE = (
    "- Memory: search earlier conversations with the memory tools; cite what you use by its id."
)

AGENT_MODES: dict[str, str] = {
    "default": "Mode: general assistant. Handle the request directly; use skills and tools when they help.",
    "chat": "Mode: conversation. Answer directly and briefly; use tools only when the user asks for facts "
    "you do not have.",
    "research": "Mode: research. Gather evidence with tools before concluding, cite sources, and separate "
    "facts from estimates.",
    "writer": "Mode: writing. Produce polished, ready-to-use text matched to the reader and tone.",
    "planner": "Mode: planning. Turn goals into concrete, dated, prioritised steps.",
    "coder": "Mode: software engineering. Work in the repository and container: reproduce, change, verify "
    "with tests, then commit.",
}
AGENT_MODE_ALIASES = {
    "software": "coder",
    "developer": "coder",
    "coding": "coder",
    "writing": "writer",
    "planning": "planner",
    "researcher": "research",
}
LOCALE_LINES = {"ja": "The user's language is Japanese: reply in Japanese unless asked otherwise."}


def time_section(remaining_s: float | None, total_s: float | None) -> str:
    line = time_line(remaining_s, total_s)
    return f"## Time budget\n{line}" if line else ""


def time_line(remaining_s: float | None, total_s: float | None) -> str:
    """The time-budget reminder every turn carries (the run loop's and the prompt builder's, one text)."""
    if remaining_s is None:
        return ""
    remaining = max(0.0, remaining_s)
    line = f"{_duration(remaining)} remaining"
    if total_s:
        used = 1.0 - remaining / total_s if total_s > 0 else 1.0
        line += f" of {_duration(total_s)} ({used:.0%} used)."
        if used >= WRAP_UP_AT:
            line += (
                "\nWrap up now: do not start new work. Finish the step in progress, then give your final answer "
                "with what you have and say what is left undone."
            )
    else:
        line += "."
    return line


def _duration(seconds: float) -> str:
    whole = round(seconds)
    minutes, secs = divmod(whole, 60)
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def tool_section(tools: list[ToolDefinition]) -> str:
    if not tools:
        return ""
    names = {t.name for t in tools}
    lines = [TOOL_RULES]
    if names & {"skill_get", "skill_list", "skill_catalog"}:
        lines.append(SKILL_TOOL_RULE)
    if any(n.endswith("_memory") or n in {"provenance_lookup", "timeline_search"} for n in names):
        lines.append(MEMORY_TOOL_RULE)
    return "\n".join(lines)


def mode_section(agent_type: str, locale: str) -> str:
    kind = AGENT_MODE_ALIASES.get(agent_type, agent_type)
    text = AGENT_MODES.get(kind) or f"Mode: {agent_type}. Work as this kind of agent would."
    if line := LOCALE_LINES.get(locale):
        text += "\n" + line
    return "## Mode\n" + text


def _hit_fields(hit: Any) -> dict[str, Any]:
    if isinstance(hit, dict):
        return hit
    if hasattr(hit, "model_dump"):
        dumped: dict[str, Any] = hit.model_dump(by_alias=True)
        return dumped
    return {k: getattr(hit, k, None) for k in ("id", "text", "kind", "occurredAt", "occurred_at")}


def memory_line(hit: Any) -> str:
    data = _hit_fields(hit)
    when = data.get("occurredAt") or data.get("occurred_at") or ""
    meta = ", ".join(str(v) for v in (data.get("kind"), str(when)[:10], data.get("id")) if v)
    text = " ".join(str(data.get("text") or "").split())
    if len(text) > MEMORY_HIT_CHARS:
        text = text[: MEMORY_HIT_CHARS - 1] + "…"
    return f"- [{meta}] {text}"
