"""The process-level registry the server builds at start: settings, stores, control plane, run manager.

Built once in the FastAPI lifespan (or by the CLI for in-process runs) and passed down; nothing below reads
the environment or keeps module-level state.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from agent.events.bus import HookBus
from agent.events.log import RunLog
from agent.events.types import Event
from agent.localdb import LocalDB
from agent.models.base import ModelClient
from agent.models.scripted import LocalEchoModel, Script, ScriptedModel
from agent.runtime.checkpoints import CheckpointStore
from agent.runtime.manager import ManagerConfig, RunManager
from agent.settings import Settings
from control_bridge import contract as c
from control_bridge.embedded import EmbeddedControlPlane
from control_bridge.errors import BridgeError, LeaseLost
from control_bridge.protocol import ControlPlaneBase

logger = logging.getLogger(__name__)


def make_model(spec: str | None, keys: dict[str, str], settings: Settings) -> ModelClient:
    """Resolves `MODEL`-style specs; a configured provider that fails is an error, never the echo model."""
    if not spec or spec == "local":
        return LocalEchoModel()
    if spec.startswith("scripted:"):
        return ScriptedModel(Script.load(spec.split(":", 1)[1]), model=Path(spec.split(":", 1)[1]).name)
    from agent.models import resolve_model

    return resolve_model(spec, keys={**settings.provider_keys(), **keys})


@dataclass
class EventForwarding:
    """Sends committed events to each run's control plane in order, one batch in flight per run."""

    controls: dict[str, tuple[ControlPlaneBase, int]] = field(default_factory=dict)
    queues: dict[str, list[Event]] = field(default_factory=lambda: defaultdict(list))
    tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict)

    def attach(self, run_id: str, control: ControlPlaneBase, lease_version: int) -> None:
        self.controls[run_id] = (control, lease_version)

    async def publish(self, events: list[Event]) -> None:
        for event in events:
            if event.run_id in self.controls:
                self.queues[event.run_id].append(event)
        for run_id in {e.run_id for e in events}:
            task = self.tasks.get(run_id)
            if run_id in self.controls and (task is None or task.done()):
                self.tasks[run_id] = asyncio.create_task(self._drain(run_id))

    async def _drain(self, run_id: str) -> None:
        control, lease = self.controls[run_id]
        queue = self.queues[run_id]
        delay = 0.05
        while queue:
            batch = queue[:500]
            records = [c.EventRecord(sequence=e.sequence, type=e.type, data=e.data, ts=e.ts) for e in batch]
            try:
                await control.run_events_append(
                    c.RunEventsAppendParams(run_id=run_id, lease_version=lease, events=records)
                )
            except LeaseLost:
                queue.clear()
                return
            except BridgeError as exc:
                logger.warning("forwarding events of %s failed (%s); retrying", run_id, exc.name)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            del queue[: len(batch)]
            delay = 0.05

    async def flush(self, run_id: str, timeout: float = 10.0) -> None:
        task = self.tasks.get(run_id)
        if task is not None:
            await asyncio.wait({task}, timeout=timeout)

    def detach(self, run_id: str) -> None:
        self.controls.pop(run_id, None)
        self.queues.pop(run_id, None)
        self.tasks.pop(run_id, None)


@dataclass
class Services:
    settings: Settings
    start_token: str | None
    db: LocalDB
    log: RunLog
    checkpoints: CheckpointStore
    control: ControlPlaneBase
    embedded: EmbeddedControlPlane | None
    manager: RunManager
    bus: HookBus
    forwarding: EventForwarding
    model_name: str

    @classmethod
    def build(cls, settings: Settings) -> Services:
        data_dir = Path(settings.data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        token = settings.start_token
        if token is None and not settings.dev:
            token = secrets.token_urlsafe(32)
        db = LocalDB(data_dir / "runs.db")
        log = RunLog(db)
        checkpoints = CheckpointStore(db)
        embedded: EmbeddedControlPlane | None = None
        if settings.embedded_control_plane:
            embedded = EmbeddedControlPlane(data_dir / "control.db")
            control: ControlPlaneBase = embedded
        else:
            from control_bridge.client import RpcControlPlane

            control = RpcControlPlane(settings.control_rpc_url or "", settings.control_rpc_token)
        bus = HookBus()
        forwarding = EventForwarding()
        log.add_publisher(forwarding.publish)
        log.add_publisher(bus.publish)
        model_name = make_model(settings.model, {}, settings).name if settings.model else "local:echo"

        def control_factory(url: str, token: str | None) -> ControlPlaneBase:
            from control_bridge.client import RpcControlPlane

            return RpcControlPlane(url, token)

        manager = RunManager(
            config=ManagerConfig(
                max_concurrent_runs=settings.max_concurrent_runs,
                default_model=settings.model,
                heartbeat_interval_s=settings.heartbeat_interval_s,
            ),
            control=control,
            log=log,
            checkpoints=checkpoints,
            model_factory=lambda spec, keys: make_model(spec, keys, settings),
            control_factory=control_factory,
            create_run=embedded.create_run if embedded is not None else None,
            forwarding=forwarding,
        )
        services = cls(
            settings=settings,
            start_token=token,
            db=db,
            log=log,
            checkpoints=checkpoints,
            control=control,
            embedded=embedded,
            manager=manager,
            bus=bus,
            forwarding=forwarding,
            model_name=model_name,
        )
        return services

    @property
    def is_language_model(self) -> bool:
        return not self.model_name.startswith("local")

    async def start(self) -> None:
        """Work that needs the running event loop (resuming runs, background tasks)."""

    def extra_methods(self) -> dict[str, object]:
        """JSON-RPC methods contributed by the memory and skills packages."""
        return {}

    async def aclose(self) -> None:
        await self.manager.shutdown(self.settings.shutdown_grace_s)
        for run_id in list(self.forwarding.tasks):
            await self.forwarding.flush(run_id, timeout=2)
        await self.control.aclose()
        self.db.close()
