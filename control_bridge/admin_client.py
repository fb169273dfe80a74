"""The admin surface of the reference server, with the same method signatures as EmbeddedControlPlane's.

So a test, a script or an operator can drive a remote reference control plane exactly like the embedded one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from control_bridge import contract as c
from control_bridge._params import coerce_params
from control_bridge.client import RpcControlPlane

R = TypeVar("R", bound=c.WireModel)


class AdminClient:
    """Calls `admin.*` methods through an RpcControlPlane (it does not close the given client)."""

    def __init__(self, rpc: RpcControlPlane) -> None:
        self.rpc = rpc

    async def _admin(
        self, method: str, params: c.WireModel | Mapping[str, Any] | None, result_type: type[R]
    ) -> R:
        params_type, expected = c.ADMIN_METHODS[method]
        assert result_type is expected, f"{method} answers {expected.__name__}"  # (the table is the truth)
        p = coerce_params(params_type, params)
        return await self.rpc.request(method, p.wire(), result_type, run_id=getattr(p, "run_id", None))

    async def create_run(self, params: c.CreateRunParams | Mapping[str, Any]) -> c.CreateRunResult:
        return await self._admin("admin.createRun", params, c.CreateRunResult)

    async def get_run(self, run_id: str) -> c.RunRecord:
        return await self._admin("admin.getRun", {"runId": run_id}, c.RunRecord)

    async def list_runs(
        self, params: c.ListRunsParams | Mapping[str, Any] | None = None
    ) -> list[c.RunRecord]:
        return (await self._admin("admin.listRuns", params, c.ListRunsResult)).runs

    async def events(self, run_id: str, *, after: int = 0, limit: int = 100_000) -> list[c.EventRecord]:
        return (
            await self._admin(
                "admin.events", {"runId": run_id, "after": after, "limit": limit}, c.AdminEventsResult
            )
        ).events

    async def register_tool(
        self, tool: c.RemoteTool | Mapping[str, Any], http_endpoint: str | None = None
    ) -> None:
        await self._admin(
            "admin.registerTool", {"tool": tool, "httpEndpoint": http_endpoint}, c.RegisterToolResult
        )

    async def bump_lease(self, run_id: str) -> int:
        return (await self._admin("admin.bumpLease", {"runId": run_id}, c.BumpLeaseResult)).lease_version

    async def request_cancel(self, run_id: str, reason: str = "canceled") -> c.CancelRunResult:
        return await self._admin("admin.cancelRun", {"runId": run_id, "reason": reason}, c.CancelRunResult)

    async def set_custom_skills(
        self,
        space_id: str,
        skills: Sequence[c.CustomSkillRecord | Mapping[str, Any]],
        *,
        mcp_servers: list[str] | None = None,
        template_ids: list[str] | None = None,
    ) -> None:
        params = {
            "spaceId": space_id,
            "skills": list(skills),
            "mcpServers": mcp_servers,
            "templateIds": template_ids,
        }
        await self._admin("admin.setCustomSkills", params, c.SpaceUpdateResult)

    async def set_api_keys(self, space_id: str, keys: Mapping[str, str]) -> None:
        await self._admin("admin.setApiKeys", {"spaceId": space_id, "keys": dict(keys)}, c.SpaceUpdateResult)

    async def tool_execution_count(self, name: str) -> int:
        return (await self._admin("admin.toolCount", {"name": name}, c.ToolCountResult)).count
