"""The MCP side of the embedded control plane: catalog merge, execution with the idempotency record,
cancellation, and progress.

Execution reuses the plane's `tool_results` record exactly as HTTP tools do: the key is reserved in SQLite
before the server is called and the mapped result is recorded after, so a replay of the same key returns
the recorded result without calling the server again (and an attempt whose outcome was lost is reported as
uncertain, never silently repeated).

Cancellation: when the caller of `tools.execute` is cancelled (the run was cancelled in-process), the call's
task is cancelled too, which makes the SDK send `notifications/cancelled` to the server; `tools.cleanup`
and `admin.cancelRun` cancel the run's in-flight calls as well (what reaches a plane over HTTP, where a
dropped request is not a cancellation). A cancelled call is recorded as an `unavailable`, uncertain outcome.

Progress: `notifications/progress` for a call go to `progress_sink(runId, data)` as they arrive. The
contract has no channel from the plane to the container besides answers, so this is live only in-process
(the embedded plane of `agent serve`, where the container turns them into `tool.progress` events). A plane
reached over HTTP has no sink: there, progress is not surfaced.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from control_bridge import contract as c
from control_bridge.mcp.config import McpConfig
from control_bridge.mcp.manager import McpManager, McpToolRef

logger = logging.getLogger("control_bridge.mcp")

ProgressSink = Callable[[str, dict[str, Any]], None]
"""(runId, {toolCallId, toolName, progress, total?, message?}) — called on the event loop, must not block."""
Db = Callable[..., Awaitable[Any]]


class PlaneMcp:
    def __init__(self, config: McpConfig) -> None:
        self.manager = McpManager(config)
        self.progress_sink: ProgressSink | None = None
        self._calls: dict[str, set[asyncio.Task[c.ToolsExecuteResult]]] = {}

    def start(self) -> None:
        self.manager.start()

    async def aclose(self) -> None:
        for tasks in list(self._calls.values()):
            for task in tasks:
                task.cancel()
        await self.manager.aclose()

    async def merge_catalog(self, result: c.ToolsCatalogResult) -> c.ToolsCatalogResult:
        tools, failed = await self.manager.catalog()
        known = {t.name for t in result.tools}
        merged = [*result.tools, *(t for t in tools if t.name not in known)]
        return result.model_copy(update={"tools": merged, "mcp_failed_servers": failed})

    async def lookup(self, name: str) -> McpToolRef | None:
        return await self.manager.lookup(name)

    async def execute(
        self, p: c.ToolsExecuteParams, ref: McpToolRef, db: Db, begin: Any, finish: Any
    ) -> c.ToolsExecuteResult:
        """`begin`/`finish` are the store's begin_tool/finish_tool, run through the plane's `db` hop."""
        outcome = await db(begin, p, ref.spec)
        if isinstance(
            outcome, c.ToolsExecuteResult
        ):  # a replay, or a call refused before reaching the server
            return outcome
        if outcome.in_progress_elsewhere:
            return c.ToolsExecuteResult(
                tool_call_id=p.tool_call.id,
                error=c.ToolExecutionError(
                    kind="unavailable", message="an earlier attempt's outcome is unknown"
                ),
                outcome_uncertain=True,
            )
        task = asyncio.get_running_loop().create_task(self._run(p, ref, db, finish))
        running = self._calls.setdefault(p.run_id, set())
        running.add(task)
        task.add_done_callback(lambda t: self._forget(p.run_id, t))
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            task.cancel()  # → notifications/cancelled; the task records the canceled outcome
            await asyncio.wait({task}, timeout=2)  # (bounded) so the record exists when the caller stops
            raise

    def _forget(self, run_id: str, task: asyncio.Task[c.ToolsExecuteResult]) -> None:
        running = self._calls.get(run_id)
        if running is not None:
            running.discard(task)
            if not running:
                del self._calls[run_id]

    async def _run(
        self, p: c.ToolsExecuteParams, ref: McpToolRef, db: Db, finish: Any
    ) -> c.ToolsExecuteResult:
        call = p.tool_call
        sink = self.progress_sink

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            if sink is None:
                return
            data: dict[str, Any] = {"toolCallId": call.id, "toolName": call.name, "progress": progress}
            if total is not None:
                data["total"] = total
            if message:
                data["message"] = message[:500]
            try:
                sink(p.run_id, data)
            except Exception:
                logger.exception("progress sink failed")

        try:
            result = await self.manager.call(ref, call, progress=on_progress)
        except asyncio.CancelledError:
            canceled = c.ToolsExecuteResult(
                tool_call_id=call.id,
                error=c.ToolExecutionError(kind="unavailable", message=f"{call.name} was canceled"),
                outcome_uncertain=ref.spec.side_effects,
            )
            await asyncio.shield(db(finish, p, canceled))
            # This task exists to produce the recorded outcome: a caller that is still waiting (the call was
            # cancelled by tools.cleanup / admin.cancelRun, not by the caller) gets the canceled result.
            return canceled
        await db(finish, p, result)
        return result

    def cancel_run(self, run_id: str) -> int:
        """Cancels the run's in-flight MCP calls; returns how many."""
        tasks = list(self._calls.get(run_id, ()))
        for task in tasks:
            task.cancel()
        return len(tasks)

    def status(self) -> dict[str, Any]:
        return self.manager.status()
