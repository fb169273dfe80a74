"""The embedded control plane: the whole contract over a local SQLite file, so the container works alone.

All SQLite work runs on one dedicated thread (a single-worker executor). That keeps the event loop free of
disk waits (a WAL checkpoint or a slow volume never stalls SSE or other runs' heartbeats) and serialises every
operation on the one connection, so each contract method is one atomic transaction without extra locks.
A hop costs tens of microseconds, far below the loop's step granularity.
"""

from __future__ import annotations

import asyncio
import functools
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import httpx

from control_bridge import contract as c
from control_bridge._params import coerce_params
from control_bridge._store import PendingHttpTool
from control_bridge._store_admin import AdminStore
from control_bridge.errors import NotFound, Unavailable
from control_bridge.protocol import ControlPlaneBase

if TYPE_CHECKING:
    from control_bridge.mcp.config import McpConfig
    from control_bridge.mcp.plane import PlaneMcp

T = TypeVar("T")

_CONTRACT_HANDLERS: dict[str, str] = {
    "run.bootstrap": "bootstrap",
    "run.config": "config",
    "conversation.history": "history",
    "tools.catalog": "catalog",
    "tools.cleanup": "cleanup",
    "skills.runtimeContext": "runtime_context",
    "run.heartbeat": "heartbeat",
    "run.isCancelled": "is_cancelled",
    "run.events.append": "events_append",
    "run.checkpoint.save": "checkpoint_save",
    "run.checkpoint.load": "checkpoint_load",
    "run.complete": "complete",
    "secrets.apiKeys": "api_keys",
}
_ADMIN_HANDLERS: dict[str, str] = {
    "admin.createRun": "create_run",
    "admin.getRun": "get_run",
    "admin.listRuns": "list_runs",
    "admin.events": "events",
    "admin.registerTool": "register_tool",
    "admin.bumpLease": "bump_lease",
    "admin.cancelRun": "cancel_run",
    "admin.setCustomSkills": "set_custom_skills",
    "admin.setApiKeys": "set_api_keys",
    "admin.toolCount": "tool_count",
}


class EmbeddedControlPlane(ControlPlaneBase):
    """Implements every contract method, plus an admin surface used by the CLI, the server and tests.

    Args:
        db_path: SQLite file (created if missing) or ":memory:".
        inline: run each (short) SQLite transaction on the event loop instead of the worker thread. The
            in-process embedded plane of `agent serve` uses it: its run log is on the loop too, and a thread
            hand-off costs more than these transactions (~100 µs against ~20 µs). SQLite then never folds
            the WAL inside a commit (that fsyncs on the loop): the owner calls `fold_wal` from a thread.
        http_client: used for tools registered with an HTTP endpoint; created lazily (and closed) if absent.
        mcp_config: MCP servers whose tools this plane offers as `mcp__<server>__<tool>` (control_bridge.mcp);
            their supervisors start with the first call on the event loop (or `start_mcp()`).
    """

    in_process: ClassVar[bool] = True
    """Runs in the container's process, on its DATA_DIR (the loop need not mirror checkpoints to it)."""

    def __init__(
        self,
        db_path: str | Path,
        *,
        http_client: httpx.AsyncClient | None = None,
        inline: bool = False,
        mcp_config: McpConfig | None = None,
    ) -> None:
        self._store = AdminStore(db_path, autocheckpoint=not inline)
        self._inline = inline
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="control-plane-db")
        self._http = http_client
        self._owns_http = False
        self._inflight: dict[tuple[str, str], asyncio.Task[c.ToolsExecuteResult]] = {}
        self._closed = False
        self.mcp: PlaneMcp | None = None
        if mcp_config is not None and mcp_config.enabled():
            from control_bridge.mcp.plane import PlaneMcp

            self.mcp = PlaneMcp(mcp_config)

    def start_mcp(self) -> None:
        """Starts the MCP servers' supervisors in the background (needs the running loop; idempotent)."""
        if self.mcp is not None:
            self.mcp.start()

    async def _db(self, fn: Callable[..., T], *args: Any) -> T:
        if self._closed:
            raise RuntimeError("control plane is closed")
        try:
            if self._inline:
                return fn(*args)
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor, functools.partial(fn, *args))
        except sqlite3.OperationalError as exc:
            # Its storage failing (a full disk, a lock held too long) is the plane being unavailable, which
            # callers retry or report, not an unexplained internal error.
            raise Unavailable(f"embedded control plane storage: {exc}") from None

    # --- the contract ----------------------------------------------------------------------------------
    async def call(self, method: str, params: c.WireModel | Mapping[str, Any] | None) -> c.WireModel:
        spec = c.METHODS.get(method)
        if spec is None:
            raise NotFound(f"unknown method {method!r}")
        p = coerce_params(spec[0], params)
        if method == "tools.execute":
            assert isinstance(p, c.ToolsExecuteParams)
            if self.mcp is not None and (ref := await self.mcp.lookup(p.tool_call.name)) is not None:
                return await self.mcp.execute(
                    p, ref, self._db, self._store.begin_tool, self._store.finish_tool
                )
            return await self._tools_execute(p)
        result: c.WireModel = await self._db(getattr(self._store, _CONTRACT_HANDLERS[method]), p)
        if self.mcp is not None:
            if method == "tools.catalog":
                assert isinstance(result, c.ToolsCatalogResult)
                return await self.mcp.merge_catalog(result)
            if method == "tools.cleanup":
                assert isinstance(result, c.ToolsCleanupResult) and isinstance(p, c.RunRef)
                released = self.mcp.cancel_run(p.run_id)
                return result.model_copy(update={"released": result.released + released})
        return result

    async def admin_call(self, method: str, params: c.WireModel | Mapping[str, Any] | None) -> c.WireModel:
        """Dispatches an `admin.*` method (see contract.ADMIN_METHODS) by name; used by the server."""
        spec = c.ADMIN_METHODS.get(method)
        if spec is None:
            raise NotFound(f"unknown method {method!r}")
        p = coerce_params(spec[0], params)
        if method == "admin.cancelRun" and self.mcp is not None:
            assert isinstance(p, c.CancelRunParams)
            self.mcp.cancel_run(p.run_id)
        return await self._db(getattr(self._store, _ADMIN_HANDLERS[method]), p)

    async def _tools_execute(self, p: c.ToolsExecuteParams) -> c.ToolsExecuteResult:
        key = (p.run_id, p.idempotency_key)
        if key in self._inflight:  # a retry while the first attempt is still calling out: share its outcome
            return (await asyncio.shield(self._inflight[key])).model_copy(update={"replayed": True})
        outcome = await self._db(self._store.begin_tool, p)
        if isinstance(outcome, c.ToolsExecuteResult):
            return outcome
        if outcome.in_progress_elsewhere:
            if key in self._inflight:
                return (await asyncio.shield(self._inflight[key])).model_copy(update={"replayed": True})
            return c.ToolsExecuteResult(
                tool_call_id=p.tool_call.id,
                error=c.ToolExecutionError(
                    kind="unavailable", message="an earlier attempt's outcome is unknown"
                ),
                outcome_uncertain=True,
            )
        # Run to completion even if this caller is cancelled, so the recorded result is never left pending.
        task = asyncio.get_running_loop().create_task(self._run_http_tool(p, outcome))
        self._inflight[key] = task
        task.add_done_callback(lambda _t: self._inflight.pop(key, None))
        return await asyncio.shield(task)

    async def _run_http_tool(self, p: c.ToolsExecuteParams, pending: PendingHttpTool) -> c.ToolsExecuteResult:
        result = await self._post_tool(p, pending)
        await self._db(self._store.finish_tool, p, result)
        return result

    async def _post_tool(self, p: c.ToolsExecuteParams, pending: PendingHttpTool) -> c.ToolsExecuteResult:
        call = p.tool_call

        def failure(kind: c.ToolFailureKind, message: str, uncertain: bool = False) -> c.ToolsExecuteResult:
            error = c.ToolExecutionError(kind=kind, message=message[:500])
            return c.ToolsExecuteResult(tool_call_id=call.id, error=error, outcome_uncertain=uncertain)

        if self._http is None:
            self._http = httpx.AsyncClient()
            self._owns_http = True
        headers = {"X-Run-Id": p.run_id, "X-Tool-Call-Id": call.id, "Idempotency-Key": p.idempotency_key}
        try:
            response = await self._http.post(
                pending.endpoint, json=call.arguments, headers=headers, timeout=pending.timeout_s
            )
        except httpx.TimeoutException:
            return failure("timeout", f"{call.name} timed out", uncertain=True)
        except httpx.HTTPError as exc:
            return failure("unavailable", f"{call.name} unreachable: {type(exc).__name__}", uncertain=True)
        if response.status_code == 429:
            return failure("rate_limited", f"{call.name} is rate limited")
        if response.status_code >= 500:
            return failure(
                "unavailable", f"{call.name} failed with HTTP {response.status_code}", uncertain=True
            )
        if response.status_code >= 400:
            return failure("domain_rejection", f"HTTP {response.status_code}: {response.text[:300]}")
        try:
            output = response.json()
        except ValueError:
            return failure("malformed_result", f"{call.name} did not answer JSON")
        return c.ToolsExecuteResult(tool_call_id=call.id, output=output)

    # --- admin -----------------------------------------------------------------------------------------
    async def create_run(self, params: c.CreateRunParams | Mapping[str, Any]) -> c.CreateRunResult:
        """A thread (if missing), the user message and a pending run with lease 1; known run_id → Conflict."""
        return await self._db(self._store.create_run, coerce_params(c.CreateRunParams, params))

    async def get_run(self, run_id: str) -> c.RunRecord:
        return await self._db(self._store.get_run, c.RunIdParams(run_id=run_id))

    async def list_runs(
        self, params: c.ListRunsParams | Mapping[str, Any] | None = None
    ) -> list[c.RunRecord]:
        result = await self._db(self._store.list_runs, coerce_params(c.ListRunsParams, params))
        return result.runs

    async def events(self, run_id: str, *, after: int = 0, limit: int = 100_000) -> list[c.EventRecord]:
        """The events run.events.append stored, in sequence order."""
        p = c.AdminEventsParams(run_id=run_id, after=after, limit=limit)
        return (await self._db(self._store.events, p)).events

    async def register_tool(
        self, tool: c.RemoteTool | Mapping[str, Any], http_endpoint: str | None = None
    ) -> None:
        p = coerce_params(c.RegisterToolParams, {"tool": tool, "httpEndpoint": http_endpoint})
        await self._db(self._store.register_tool, p)

    async def bump_lease(self, run_id: str) -> int:
        """Grants a new lease; calls still carrying the older one get LeaseLost."""
        return (await self._db(self._store.bump_lease, c.RunIdParams(run_id=run_id))).lease_version

    async def request_cancel(self, run_id: str, reason: str = "canceled") -> c.CancelRunResult:
        """Sets the flag that run.heartbeat and run.isCancelled report (terminal runs are unchanged), and
        cancels the run's in-flight MCP calls."""
        if self.mcp is not None:
            self.mcp.cancel_run(run_id)
        return await self._db(self._store.cancel_run, c.CancelRunParams(run_id=run_id, reason=reason))

    async def set_custom_skills(
        self,
        space_id: str,
        skills: Sequence[c.CustomSkillRecord | Mapping[str, Any]],
        *,
        mcp_servers: list[str] | None = None,
        template_ids: list[str] | None = None,
    ) -> None:
        p = coerce_params(
            c.SetCustomSkillsParams,
            {
                "spaceId": space_id,
                "skills": list(skills),
                "mcpServers": mcp_servers,
                "templateIds": template_ids,
            },
        )
        await self._db(self._store.set_custom_skills, p)

    async def set_api_keys(self, space_id: str, keys: Mapping[str, str]) -> None:
        await self._db(self._store.set_api_keys, c.SetApiKeysParams(space_id=space_id, keys=dict(keys)))

    async def tool_execution_count(self, name: str) -> int:
        """How many times the tool really ran (replays excluded): the side-effect counter tests check."""
        return (await self._db(self._store.tool_count, c.ToolCountParams(name=name))).count

    def fold_wal(self) -> None:
        """Folds the WAL into the database file (PASSIVE); blocking: call it from a worker thread."""
        self._store.fold_wal()

    async def aclose(self) -> None:
        if self._closed:
            return
        for task in list(self._inflight.values()):
            task.cancel()
        if self.mcp is not None:
            await self.mcp.aclose()
        if self._owns_http and self._http is not None:
            await self._http.aclose()
        await self._db(self._store.close)
        self._closed = True
        self._executor.shutdown(wait=False)
