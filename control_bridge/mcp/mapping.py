"""MCP ⇄ contract mapping: tool listings become `RemoteTool`s, call results become `ToolsExecuteResult`s.

Naming: `mcp__<server>__<tool>`, restricted to `[A-Za-z0-9_-]` and 64 characters (what every model provider
accepts); a longer or stranger name is sanitised and given a short hash suffix so two tools never collide.

Annotations (MCP calls them hints; we take them at their word, as other clients do):
- `readOnlyHint: true` → `sideEffects: false` (may run concurrently and be repeated);
- `destructiveHint: true` (the MCP default for a tool that is not read-only) → `requiresConfirmation: true`,
  `riskLevel: "high"`; a tool that says neither read-only nor non-destructive is treated as destructive;
- `idempotentHint` is recorded as the tag `mcp:idempotent`, `openWorldHint` as `mcp:open-world`.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import mcp_types as mt

from control_bridge import contract as c

PREFIX = "mcp__"
MAX_NAME = 64
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def exposed_name(server: str, tool: str) -> str:
    """The catalog name of `tool` on `server` (stable: the same inputs always give the same name)."""
    name = f"{PREFIX}{server}__{tool}"
    safe = _UNSAFE.sub("_", name)
    if safe == name and len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{safe[: MAX_NAME - 9]}_{digest}"


def remote_tool(server: str, tool: mt.Tool, *, timeout_ms: int) -> c.RemoteTool:
    hints = tool.annotations
    read_only = bool(hints and hints.read_only_hint)
    # The spec's defaults: destructiveHint is true unless said otherwise, and meaningless when read-only.
    destructive = not read_only and (hints is None or hints.destructive_hint is not False)
    tags = ["mcp", f"mcp:{server}"]
    if hints is not None and hints.idempotent_hint:
        tags.append("mcp:idempotent")
    if hints is not None and hints.open_world_hint:
        tags.append("mcp:open-world")
    if destructive:
        tags.append("mcp:destructive")
    schema = dict(tool.input_schema or {})
    schema.setdefault("type", "object")
    description = tool.description or (hints.title if hints and hints.title else "") or tool.title or ""
    return c.RemoteTool(
        name=exposed_name(server, tool.name),
        description=f"[{server}] {description}".strip()[:4000],
        parameters=schema,
        side_effects=not read_only,
        risk_level="high" if destructive else "low",
        requires_confirmation=destructive,
        tags=tags,
        timeout_ms=timeout_ms,
    )


def _block(block: Any) -> dict[str, Any]:
    """One content block as JSON: text as is; images, audio and resources as references (never dropped,
    never inlined as base64 into the model's context)."""
    if isinstance(block, mt.TextContent):
        return {"type": "text", "text": block.text}
    if isinstance(block, mt.ImageContent | mt.AudioContent):
        return {
            "type": block.type,
            "mimeType": block.mime_type,
            "bytes": len(block.data) * 3 // 4,
            "sha256": hashlib.sha256(block.data.encode()).hexdigest(),
        }
    if isinstance(block, mt.ResourceLink):
        return {
            "type": "resource_link",
            "uri": str(block.uri),
            "name": block.name,
            "mimeType": block.mime_type,
        }
    resource = getattr(block, "resource", None)
    if resource is not None:
        ref: dict[str, Any] = {"type": "resource", "uri": str(resource.uri), "mimeType": resource.mime_type}
        text = getattr(resource, "text", None)
        if isinstance(text, str):
            ref["text"] = text[:8000]
        blob = getattr(resource, "blob", None)
        if isinstance(blob, str):
            ref["bytes"] = len(blob) * 3 // 4
        return ref
    dumped = (
        block.model_dump(mode="json", by_alias=True, exclude_none=True)
        if hasattr(block, "model_dump")
        else {}
    )
    return {"type": dumped.get("type", "unknown"), **{k: v for k, v in dumped.items() if k != "data"}}


def _restates(text: str, structured: Any) -> bool:
    """The spec asks servers to repeat structured content as JSON text; the model need not read it twice."""
    if structured is None:
        return False
    try:
        return bool(json.loads(text) == structured)
    except ValueError:
        return False


def execute_result(tool_call_id: str, result: mt.CallToolResult) -> c.ToolsExecuteResult:
    """Text and structured content become the output; `isError` becomes a typed `domain_rejection` with the
    server's text, which the model sees as a failed tool result it can act on."""
    blocks = [_block(b) for b in result.content]
    text = "\n".join(b["text"] for b in blocks if b.get("type") == "text")
    if result.is_error:
        message = text or "the MCP tool reported an error"
        return c.ToolsExecuteResult(
            tool_call_id=tool_call_id,
            error=c.ToolExecutionError(kind="domain_rejection", message=message[:2000]),
        )
    output: dict[str, Any] = {}
    if result.structured_content is not None:
        output["structuredContent"] = result.structured_content
    if text and not _restates(text, result.structured_content):
        output["text"] = text
    others = [b for b in blocks if b.get("type") != "text"]
    if others:
        output["content"] = others
    return c.ToolsExecuteResult(tool_call_id=tool_call_id, output=output)
