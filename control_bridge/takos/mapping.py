"""Pure conversions between Takos's shapes and the contract's (no I/O): tools, budgets, history, skills."""

from __future__ import annotations

import hashlib
import logging
import re
from typing import Any

from pydantic import ValidationError

from control_bridge import contract as c
from control_bridge.takos import wire as w
from control_bridge.takos.checkpoint import usage_of
from control_bridge.takos.events import preview
from control_bridge.takos.transcript import complete_run_messages

logger = logging.getLogger(__name__)

MAX_GRAPH_STEPS = 128
MAX_TOOL_ROUNDS = 16
CALLS_PER_ROUND = 16
MAX_IDEMPOTENCY_BYTES = 512
MAX_OUTPUT_BYTES = 512 * 1024
MAX_ERROR_BYTES = 64 * 1024
MODEL_KEY = "takos"
"""`secrets.apiKeys` names under which the Worker's OpenAI-compatible credential and endpoint come back."""
ENDPOINT_KEY = "takos.endpoint"
MAX_TOKENS = 8192
UNCERTAIN_FATAL = (
    "side-effect outcome is uncertain; verify remote state before issuing a new operation; "
    "automatic replay is blocked"
)


def parse_allowlist(raw: str | None) -> frozenset[str] | None:
    """`TAKOS_AGENT_TOOL_ALLOWLIST`: comma-separated names, `*` for all; unset or empty = no remote tool."""
    names = frozenset(n.strip() for n in (raw or "").split(",") if n.strip())
    return names or None


_TOOL_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,128}$")


def tool_call_cap(config: w.RunConfig) -> int | None:
    """Takos's budgets (capped 128 graph steps / 16 tool rounds, as its container caps them) as our one
    tool-call cap: a round holds at most 16 calls (the complete-run limit per assistant message)."""
    caps = [
        min(config.max_graph_steps, MAX_GRAPH_STEPS) if config.max_graph_steps else None,
        min(config.max_tool_rounds, MAX_TOOL_ROUNDS) * CALLS_PER_ROUND if config.max_tool_rounds else None,
    ]
    return min((x for x in caps if x), default=None)


def remote_tool(raw: dict[str, Any]) -> c.RemoteTool | None:
    """A Takos ToolDefinition as our RemoteTool; None (with a warning) for one we cannot offer."""
    try:
        tool = w.ToolDefinition.model_validate(raw)
    except ValidationError:
        logger.warning("tool-catalog: skipping a malformed tool definition")
        return None
    if not _TOOL_NAME.match(tool.name):
        logger.warning("tool-catalog: skipping %r (not a name a model can call)", tool.name[:80])
        return None
    params = tool.parameters if tool.parameters.get("type") == "object" else {"type": "object"}
    tags = [t for t in (tool.category, "risk:high" if tool.risk_level == "high" else None) if t]
    risk = tool.risk_level or "low"
    return c.RemoteTool(
        name=tool.name,
        description=tool.description,
        parameters=params,
        side_effects=not tool.read_only,
        # "high" would make the loop wait for a person, and no one can answer inside a Takos run: high risk
        # stays side-effecting (never read-only, never replayed blindly) and is tagged `risk:high`.
        risk_level="low" if risk == "low" else "medium",
        requires_confirmation=False,
        tags=tags,
    )


def history_messages(items: list[w.HistoryItem]) -> list[c.HistoryMessage]:
    return [
        c.HistoryMessage(
            role=h.role,
            content=h.content,
            tool_calls=[
                c.HistoryToolCall(id=t.id, name=t.name, arguments=t.arguments)
                for t in h.tool_calls
                if t.id and t.name
            ],
            tool_call_id=h.tool_call_id,
        )
        for h in items
    ]


def idempotency_key(key: str) -> str:
    if len(key.encode()) <= MAX_IDEMPOTENCY_BYTES:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def clip(text: str, limit: int) -> str:
    raw = text.encode()
    return text if len(raw) <= limit else raw[: limit - 3].decode("utf-8", "ignore") + "..."


def error_text(fatal: str | None, p: c.RunCompleteParams) -> str:
    if fatal:
        return fatal
    error = p.error
    message = (error.message or error.kind) if error is not None else (p.reason or "agent execution failed")
    if p.status == "canceled":
        return f"agent execution cancelled ({p.reason or 'canceled'})"
    return message


_CONTRACT_FIELDS = (
    "preferred_tools",
    "output_modes",
    "durable_output_hints",
    "required_mcp_servers",
    "template_ids",
)


def skill_record(raw: Any) -> c.CustomSkillRecord | None:
    """A Worker skill (SkillContext: id, name, instructions, execution_contract, …) as a skill record."""
    if not isinstance(raw, dict) or not raw.get("id") or not raw.get("name"):
        return None
    found = raw.get("execution_contract")
    contract: dict[str, Any] = found if isinstance(found, dict) else {}
    data: dict[str, Any] = {
        "id": str(raw["id"]),
        "name": str(raw["name"]),
        "description": str(raw.get("description") or ""),
        "category": str(raw.get("category") or "general"),
        "locale": str(raw.get("locale") or "en"),
        "version": str(raw.get("version") or "1"),
        "triggers": [str(t) for t in raw.get("triggers") or [] if isinstance(t, str)],
        "activation_tags": [str(t) for t in raw.get("activation_tags") or [] if isinstance(t, str)],
        "instructions": str(raw.get("instructions") or ""),
        **{k: [str(v) for v in contract.get(k) or [] if isinstance(v, str)] for k in _CONTRACT_FIELDS},
    }
    if isinstance(raw.get("priority"), int):
        data["priority"] = raw["priority"]
    try:
        return c.CustomSkillRecord.model_validate(data)
    except ValidationError:
        return None


def skills_result(answer: w.SkillContext) -> c.SkillsRuntimeContextResult:
    """Every skill the Worker sent becomes a record; the plan's activated ones are the preselection."""
    records: dict[str, c.CustomSkillRecord] = {}
    for raw in [*answer.custom_skills, *answer.managed_skills, *answer.skills]:
        record = skill_record(raw)
        if record is not None:
            records[record.id] = record
    return c.SkillsRuntimeContextResult(
        custom_skills=list(records.values()),
        preselected=[r.id for r in (skill_record(x) for x in answer.skills) if r is not None],
        locale=answer.locale,
        mcp_servers=answer.available_mcp_server_names,
        template_ids=answer.available_template_ids,
    )


def complete_run_body(
    identity: w.Identity, p: c.RunCompleteParams, status: c.TerminalStatus, fatal: str | None
) -> dict[str, Any]:
    """The one complete-run payload (sent as is on every retry): within the Worker's limits."""
    error = None if status == "completed" else error_text(fatal, p)
    note = None if status == "completed" else f"The run failed: {preview(error or 'unknown error', 2000)}"
    return {
        "runId": identity.run_id,
        "serviceId": identity.service_id,
        "leaseVersion": identity.lease_version,
        "status": status,
        "usage": usage_of({"usage": p.usage.model_dump()}),
        "output": clip(p.output or "", MAX_OUTPUT_BYTES) if status == "completed" else None,
        "error": clip(error, MAX_ERROR_BYTES) if error else None,
        "messages": complete_run_messages(p.transcript, note),
    }
