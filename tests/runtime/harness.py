"""An in-process harness around the real RunManager, run log, checkpoints and embedded control plane.

Only the model and the local tools are chosen by the test; everything durable is real SQLite on tmp_path.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from agent.events.forwarding import EventForwarding
from agent.events.log import RunLog
from agent.events.types import Event
from agent.localdb import LocalDB
from agent.models.base import ModelClient
from agent.runtime.bootstrap import RunExtras
from agent.runtime.checkpoints import CheckpointStore
from agent.runtime.manager import ManagerConfig, RunManager
from agent.runtime.policy import RunPolicy
from agent.runtime.requests import StartRequest
from agent.runtime.state import RunState
from agent.tools.spec import ToolSpec
from control_bridge import contract as c
from control_bridge.embedded import EmbeddedControlPlane


class FnTool:
    """A local tool from an async function, counting its calls."""

    def __init__(
        self,
        name: str,
        fn: Any,
        *,
        parameters: dict[str, Any] | None = None,
        side_effects: bool = True,
        timeout_s: float | None = None,
        requires_confirmation: bool = False,
        tags: tuple[str, ...] = (),
    ):
        self.spec = ToolSpec(
            name=name,
            description=f"test tool {name}",
            parameters=parameters or {"type": "object", "properties": {}},
            side_effects=side_effects,
            timeout_s=timeout_s,
            requires_confirmation=requires_confirmation,
            tags=tags,
        )
        self.fn = fn
        self.calls: list[dict[str, Any]] = []

    async def execute(self, arguments: dict[str, Any], ctx: Any) -> Any:
        self.calls.append(arguments)
        return await self.fn(arguments, ctx)


class Harness:
    def __init__(
        self,
        tmp_path: Path,
        model: ModelClient,
        tools: list[Any] | None = None,
        policy: RunPolicy | None = None,
        max_runs: int = 5,
    ) -> None:
        tmp_path.mkdir(parents=True, exist_ok=True)
        self.db = LocalDB(tmp_path / "runs.db")
        self.log = RunLog(self.db)
        self.checkpoints = CheckpointStore(self.db)
        self.control = EmbeddedControlPlane(tmp_path / "control.db", inline=True)
        self.model = model
        self.tools = tools or []
        self.forwarding = EventForwarding()
        self.log.add_publisher(self.forwarding.publish)

        async def run_context(state: RunState, control: Any, remote: list[Any], children: Any) -> RunExtras:
            return RunExtras(tools=list(self.tools))

        self.manager = RunManager.assemble(
            config=ManagerConfig(
                max_concurrent_runs=max_runs, heartbeat_interval_s=0.2, default_policy=policy or RunPolicy()
            ),
            control=self.control,
            log=self.log,
            checkpoints=self.checkpoints,
            model_factory=lambda spec, keys: self.model,
            run_context=run_context,
            create_run=self.control.create_run,
            forwarding=self.forwarding,
        )

    async def start(self, text: str = "go", *, config: c.RunConfigResult | None = None, **kw: Any) -> str:
        result = await self.manager.start(StartRequest(input=text, config=config, **kw))
        return result.run_id

    async def wait(self, run_id: str, timeout: float = 20) -> RunState:
        handle = self.manager.runs[run_id]
        async with asyncio.timeout(timeout):
            while handle.task is not None and not handle.task.done():
                await asyncio.wait({handle.task})
        assert handle.state is not None
        return handle.state

    async def run(self, text: str = "go", **kw: Any) -> RunState:
        return await self.wait(await self.start(text, **kw))

    def events(self, run_id: str) -> list[Event]:
        return self.log.read(run_id, after=0, limit=100_000)

    def types(self, run_id: str) -> list[str]:
        return [e.type for e in self.events(run_id)]

    async def close(self) -> None:
        await self.manager.shutdown(1)
        await self.control.aclose()
        self.db.close()


def assert_one_terminal_last(events: list[Event]) -> None:
    terminal = [e for e in events if e.type in ("run.completed", "run.failed", "run.canceled")]
    assert len(terminal) == 1, [e.type for e in events]
    assert events[-1].type == terminal[0].type
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
