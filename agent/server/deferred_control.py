"""The embedded control plane, opened after the server starts.

sqlite-utils (which the embedded control plane stores with) imports numpy and click: ~0.2 s that /health
must not wait for. This proxy opens the real plane in a worker thread once the event loop runs; calls made
before it is open simply wait for it.
"""

from __future__ import annotations

import asyncio
import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from control_bridge import contract as c
from control_bridge.protocol import ControlPlaneBase

if TYPE_CHECKING:
    from control_bridge.mcp.config import McpConfig
    from control_bridge.mcp.plane import ProgressSink


class DeferredEmbeddedControlPlane(ControlPlaneBase):
    in_process: ClassVar[bool] = True

    def __init__(self, db_path: Path, *, mcp_config: McpConfig | None = None) -> None:
        self.db_path = db_path
        self.mcp_config = mcp_config
        self.progress_sink: ProgressSink | None = None
        """Given to the plane's MCP side when it opens (tool progress → the run's events)."""
        self._plane: Any = None
        self._opened: asyncio.Task[Any] | None = None

    def start(self) -> None:
        self._opened = asyncio.create_task(self._open(), name="open-control-plane")

    async def _open(self) -> Any:
        module = await asyncio.to_thread(importlib.import_module, "control_bridge.embedded")
        plane = module.EmbeddedControlPlane(self.db_path, inline=True, mcp_config=self.mcp_config)
        if plane.mcp is not None:
            plane.mcp.progress_sink = self.progress_sink
            plane.start_mcp()
        self._plane = plane
        return plane

    @property
    def opened(self) -> Any:
        """The EmbeddedControlPlane if it is open already, else None (never waits: for /health)."""
        return self._plane

    async def plane(self) -> Any:
        """The EmbeddedControlPlane (for admin calls: create_run, get_run, events …)."""
        if self._plane is not None:
            return self._plane
        if self._opened is None:
            self.start()
        assert self._opened is not None
        return await asyncio.shield(self._opened)

    async def call(self, method: str, params: c.WireModel) -> c.WireModel:
        plane = self._plane or await self.plane()
        result: c.WireModel = await plane.call(method, params)
        return result

    async def create_run(self, params: c.CreateRunParams) -> c.CreateRunResult:
        return await (await self.plane()).create_run(params)  # type: ignore[no-any-return]

    async def aclose(self) -> None:
        if self._opened is not None and not self._opened.done():
            self._opened.cancel()
        if self._plane is not None:
            await self._plane.aclose()
