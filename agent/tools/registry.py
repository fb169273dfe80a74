"""The per-run tool registry: local tools and the remote catalog, local winning on a name clash."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from typing import Any

from agent.models.types import ToolDefinition
from agent.runtime.policy import RunPolicy
from agent.tools.spec import Tool, ToolCallContext, ToolFailure, ToolSpec
from control_bridge.contract import RemoteTool, ToolCall, ToolsExecuteParams, ToolsExecuteResult
from control_bridge.errors import BridgeError, LeaseLost, RateLimited, Unavailable
from control_bridge.protocol import ControlPlaneBase
from control_bridge.retrying import RetryPolicy

TOOL_OUTAGE_WINDOW_S = 30.0
"""How long a remote tool call keeps retrying an unreachable control plane (TOOL_OUTAGE_WINDOW_MS)."""

_OUTAGE_BACKOFF = RetryPolicy(max_attempts=None, base_delay_s=0.25, max_delay_s=2.0)
"""Between the client's own retry bursts; the same idempotency key is re-sent, so the plane runs it once."""


class AdaptedTool:
    """Wraps a duck-typed tool object from `memory` or `skills` (which cannot import ToolSpec)."""

    def __init__(self, obj: Any, *, tags: tuple[str, ...] = ()) -> None:
        self._obj = obj
        self.spec = ToolSpec(
            name=obj.name,
            description=getattr(obj, "description", ""),
            parameters=getattr(obj, "parameters", {"type": "object", "properties": {}}),
            side_effects=bool(getattr(obj, "side_effects", True)),
            tags=tuple(getattr(obj, "tags", ())) or tags,
            timeout_s=getattr(obj, "timeout_s", None),
        )

    async def execute(self, arguments: dict[str, Any], ctx: ToolCallContext) -> Any:
        return await self._obj.execute(arguments, ctx)


class RemoteToolAdapter:
    """A catalog tool executed by the control plane through `tools.execute`, with an idempotency key."""

    def __init__(
        self, remote: RemoteTool, control: ControlPlaneBase, *, outage_window_s: float = TOOL_OUTAGE_WINDOW_S
    ) -> None:
        self._control = control
        self._outage_window_s = outage_window_s
        self._rng = random.Random()
        self.spec = ToolSpec(
            name=remote.name,
            description=remote.description,
            parameters=remote.parameters,
            side_effects=remote.side_effects,
            risk_level=remote.risk_level,
            requires_confirmation=remote.requires_confirmation or remote.risk_level == "high",
            tags=tuple(remote.tags),
            timeout_s=remote.timeout_ms / 1000 if remote.timeout_ms else None,
            source="remote",
        )

    async def execute(self, arguments: dict[str, Any], ctx: ToolCallContext) -> Any:
        params = ToolsExecuteParams(
            run_id=ctx.run_id,
            lease_version=ctx.lease_version,
            tool_call=ToolCall(id=ctx.tool_call_id, name=self.spec.name, arguments=arguments),
            idempotency_key=idempotency_key(ctx.run_id, ctx.step, ctx.tool_call_id),
        )
        try:
            result = await self._execute_through_outage(params)
        except LeaseLost:
            raise
        except RateLimited as exc:
            raise ToolFailure("rate_limited", f"the control plane is rate limiting: {exc.message}") from exc
        except _OutageExceeded as exc:
            raise ToolFailure(
                "unavailable",
                f"the control plane was unreachable for {exc.seconds:.0f} s ({exc.cause.name}), so the call "
                "could not be made; its outcome is uncertain: do not assume it ran or did not run",
                "finish",
            ) from exc.cause
        except BridgeError as exc:
            raise ToolFailure(
                "unavailable",
                f"the tool could not be reached ({exc.name}); its outcome is uncertain: do not assume it ran "
                "or did not run",
                "finish",
            ) from exc
        if result.outcome_uncertain:
            raise ToolFailure(
                "unavailable",
                "the tool's outcome is uncertain (it may or may not have taken effect); do not call it again "
                "blindly — check its effect first or tell the user",
                "finish",
            )
        if result.error is not None:
            raise ToolFailure(result.error.kind, result.error.message or "the tool failed")
        return result.output

    async def _execute_through_outage(self, params: ToolsExecuteParams) -> ToolsExecuteResult:
        """Re-sends the same call (same idempotency key) while the plane stays unreachable, for at most the
        outage window; `execute_one` still bounds the whole call by the tool's timeout and the run's budget."""
        first_failure: float | None = None
        attempt = 0
        while True:
            try:
                return await self._control.tools_execute(params)
            except LeaseLost:
                raise
            except BridgeError as exc:
                if not isinstance(exc, Unavailable | RateLimited) or self._outage_window_s <= 0:
                    raise
                now = time.monotonic()
                first_failure = now if first_failure is None else first_failure
                elapsed = now - first_failure
                attempt += 1
                retry_after = exc.retry_after if isinstance(exc, RateLimited) else None
                delay = _OUTAGE_BACKOFF.delay(attempt, self._rng, retry_after) or 0.0
                remaining = self._outage_window_s - elapsed
                if isinstance(exc, RateLimited) and delay > remaining:
                    raise  # the plane asked for more time than the window has left
                if remaining <= 0:
                    raise _OutageExceeded(elapsed, exc) from exc
                # The last wait is cut to the window's end, so the call is tried once more at its close and the
                # outage reported is the whole window, not whatever the jittered backoff had reached.
                await asyncio.sleep(min(delay, remaining))


class _OutageExceeded(Exception):
    """The outage window ran out with the plane still unreachable."""

    def __init__(self, seconds: float, cause: BridgeError) -> None:
        super().__init__(f"unreachable for {seconds:.1f} s")
        self.seconds = seconds
        self.cause = cause


def idempotency_key(run_id: str, step: int, tool_call_id: str) -> str:
    """Stable across a resume: the same step of the same run re-sends the same key."""
    return f"{run_id}:{step}:{tool_call_id}"


@dataclass
class ToolRegistry:
    tools: dict[str, Tool] = field(default_factory=dict)
    shadowed: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    _definitions: dict[tuple[str, ...], list[ToolDefinition]] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        local: list[Tool],
        remote: list[RemoteTool],
        control: ControlPlaneBase,
        policy: RunPolicy,
        *,
        outage_window_s: float = TOOL_OUTAGE_WINDOW_S,
    ) -> ToolRegistry:
        registry = cls()
        for tool in local:
            registry.tools[tool.spec.name] = tool
        for item in remote:
            if item.name in registry.tools:
                registry.shadowed.append(item.name)
                continue
            registry.tools[item.name] = RemoteToolAdapter(item, control, outage_window_s=outage_window_s)
        for name, tool in list(registry.tools.items()):
            if not policy.allows(name, tool.spec.tags):
                registry.blocked.append(name)
                del registry.tools[name]
        return registry

    def get(self, name: str) -> Tool | None:
        return self.tools.get(name)

    def definitions(self, exclude: list[str] | tuple[str, ...] = ()) -> list[ToolDefinition]:
        """The tools offered to the model (cached: the same list is offered turn after turn)."""
        key = tuple(exclude)
        cached = self._definitions.get(key)
        if cached is None:
            cached = [
                ToolDefinition(name=t.spec.name, description=t.spec.description, parameters=t.spec.parameters)
                for name, t in self.tools.items()
                if name not in exclude
            ]
            self._definitions[key] = cached
        return list(cached)
