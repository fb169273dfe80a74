"""The process-level registry the server builds at start: settings, stores, control plane, run manager.

Built once in the FastAPI lifespan (or by the CLI for in-process runs) and passed down; nothing below reads
the environment or keeps module-level state.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from agent.events.bus import HookBus
from agent.events.forwarding import EventForwarding
from agent.events.log import RunLog
from agent.events.payloads import RunStarted
from agent.events.types import Event
from agent.localdb import LocalDB
from agent.memoryhost import MemoryHost
from agent.models import RateLimiters, parse_model_spec, resolve_model
from agent.models.base import ModelClient
from agent.models.scripted import ScriptedModel
from agent.observability import RunMetrics
from agent.observability.tracing import RunTracer, make_tracer
from agent.redaction import redact
from agent.runcontext import RunContextFactory
from agent.runtime.bootstrap import LOCAL_MODEL
from agent.runtime.checkpoints import CheckpointStore
from agent.runtime.manager import ManagerConfig, RunManager
from agent.runtime.requests import StartRequest
from agent.runtime.retention import prune
from agent.runtime.state import RunState
from agent.server.deferred_control import DeferredEmbeddedControlPlane
from agent.server.mcp_wiring import progress_sink
from agent.server.model_access import checked_spec, load_script
from agent.server.operator_methods import operator_methods
from agent.server.recovery import recover_runs
from agent.server.takos import TakosWiring
from agent.settings import Settings
from agent.storage import StorageStatus
from control_bridge.protocol import ControlPlaneBase
from skills import Skill, load_official_catalog, warm_intent_model

logger = logging.getLogger(__name__)


class ModelFactory:
    """Builds each run's model from its spec; a configured provider that fails is an error, never the echo.

    Runs share one HTTP client and one set of per-family rate limiters, so concurrent runs share a budget.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._http: httpx.AsyncClient | None = None
        self.limiters = RateLimiters(settings.model_settings.rate_limit)

    @property
    def http(self) -> httpx.AsyncClient:
        """Made on first use: building its TLS context costs ~70 ms that the start path need not pay."""
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self.settings.model_settings.timeout)
        return self._http

    def check(self, spec: str | None) -> None:
        """Raises ModelConfigError for a spec this server will not run (a script outside SCRIPTS_DIR)."""
        if spec and spec.startswith("takos:"):  # (resolved by the Takos wiring, not a file or a URL)
            return
        checked_spec(spec, operator_spec=self.settings.model, scripts_dir=self.settings.scripts_dir)

    def __call__(self, spec: str | None, keys: dict[str, str]) -> ModelClient:
        if spec and spec.startswith("takos:"):
            from agent.server.takos import takos_model

            return takos_model(
                spec,
                keys,
                http_client=self.http,
                settings=self.settings.model_settings,
                limiters=self.limiters,
            )
        parsed = checked_spec(spec, operator_spec=self.settings.model, scripts_dir=self.settings.scripts_dir)
        if parsed.provider == "scripted":
            return ScriptedModel(load_script(parsed), model=parsed.model)
        return resolve_model(
            parsed,
            keys={**self.settings.provider_keys(), **keys},
            http_client=self.http if parsed.provider != "local" else None,
            settings=self.settings.model_settings,
            limiters=self.limiters,
        )

    def display_name(self, spec: str | None) -> str:
        """The spec as it may be shown (health, logs): credentials in its URL masked."""
        return (
            LOCAL_MODEL
            if not spec or spec == "local"
            else redact(str(parse_model_spec(spec, check_files=False)))
        )

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()


class BackgroundTasks:
    """Work the server owns in the background; finished tasks leave the set, the rest are cancelled at close."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def cancel_all(self) -> None:
        for task in list(self._tasks):
            task.cancel()


class RemotePlanes:
    """One control-plane client per (URL, token) a /start named, reused by its runs, closed when the last
    run on it ends (and at shutdown)."""

    def __init__(self, takos: TakosWiring | None = None) -> None:
        self.planes: dict[tuple[str, str | None], ControlPlaneBase] = {}
        self.takos = takos
        """Under Takos each /start gets a Takos transport (its token is per run and lease)."""

    def __call__(self, url: str, token: str | None, start: StartRequest) -> ControlPlaneBase:
        from control_bridge.client import RpcControlPlane

        key = (url, token)
        if key not in self.planes:
            self.planes[key] = (
                self.takos.control_factory(url, token, start) if self.takos else RpcControlPlane(url, token)
            )
        return self.planes[key]

    async def release(self, plane: ControlPlaneBase) -> None:
        for key, known in list(self.planes.items()):
            if known is plane:
                del self.planes[key]
                await plane.aclose()

    async def aclose(self) -> None:
        for plane in self.planes.values():
            await plane.aclose()
        self.planes.clear()


@dataclass
class Services:
    settings: Settings
    start_token: str | None
    db: LocalDB
    log: RunLog
    checkpoints: CheckpointStore
    control: ControlPlaneBase
    embedded: DeferredEmbeddedControlPlane | None
    manager: RunManager
    bus: HookBus
    forwarding: EventForwarding
    models: ModelFactory
    memory: MemoryHost
    remote_planes: RemotePlanes
    official_skills: list[Skill]
    metrics: RunMetrics
    tracer: RunTracer | None
    background: BackgroundTasks
    takos: TakosWiring | None = None
    """What CONTROL_PROTOCOL=takos changes at /start (None for the JSON-RPC contract)."""

    @classmethod
    def build(cls, settings: Settings) -> Services:
        """Everything in one pass, leaves first: nothing is patched onto an object after it is built."""
        data_dir = Path(settings.data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        token = settings.effective_start_token
        if token is None and not settings.dev and not settings.takos:  # (Takos: /start answers 503)
            token = secrets.token_urlsafe(32)
        storage = StorageStatus(
            data_dir,
            min_free_bytes=int(settings.min_free_disk_mb * 1024 * 1024),
            wait_s=settings.storage_wait_s,
        )
        db = LocalDB(data_dir / "runs.db", storage)
        log = RunLog(db)
        checkpoints = CheckpointStore(db)
        embedded = (
            DeferredEmbeddedControlPlane(data_dir / "control.db", mcp_config=settings.mcp)
            if settings.embedded_control_plane
            else None
        )
        control: ControlPlaneBase
        if embedded is not None:
            control = embedded
        else:
            from control_bridge.client import RpcControlPlane

            control = RpcControlPlane(settings.control_rpc_url or "", settings.secret("control_rpc_token"))
        background = BackgroundTasks()
        memory = MemoryHost(data_dir, settings.memory_embedder)
        official_skills = load_official_catalog()
        warm_intent_model(official_skills)  # (a daemon thread: the start does not wait for it)
        models = ModelFactory(settings)
        forwarding = EventForwarding()
        takos = TakosWiring(settings) if settings.takos else None
        remote_planes = RemotePlanes(takos)
        create_run = embedded.create_run if embedded is not None else None
        manager = RunManager.assemble(
            config=ManagerConfig(
                max_concurrent_runs=settings.max_concurrent_runs,
                default_model=settings.model,
                heartbeat_interval_s=settings.heartbeat_interval_s,
                tool_outage_window_s=settings.tool_outage_window_ms / 1000,
            ),
            control=control,
            log=log,
            checkpoints=checkpoints,
            model_factory=models,
            run_context=RunContextFactory(
                official_skills=official_skills,
                memory=memory,
                context_window=settings.context_window,
                agent_tools=settings.agent_tools,
                create_run=create_run,
            ),
            forwarding=forwarding,
            create_run=create_run,
            on_finished=functools.partial(_distill, memory, background),
            control_factory=remote_planes,
            release_control=remote_planes.release,
        )
        if embedded is not None and settings.mcp is not None:
            embedded.progress_sink = progress_sink(manager)
        bus = HookBus()
        metrics = RunMetrics(active_runs=lambda: manager.active)
        tracer = make_tracer(settings.otel_endpoint)
        log.add_publisher(forwarding.publish)
        log.add_publisher(bus.publish)
        bus.subscribe(functools.partial(_ingest, memory, manager))
        bus.subscribe(metrics.on_event)
        if tracer is not None:
            bus.subscribe(tracer)
        return cls(
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
            models=models,
            memory=memory,
            remote_planes=remote_planes,
            official_skills=official_skills,
            metrics=metrics,
            tracer=tracer,
            background=background,
            takos=takos,
        )

    @property
    def model_name(self) -> str:
        return self.models.display_name(self.settings.model)

    @property
    def is_language_model(self) -> bool:
        return not self.model_name.startswith(("local", "scripted", "a2a-conformance"))

    async def start(self) -> None:
        """Work that needs the running event loop: background housekeeping."""
        if self.embedded is not None:
            self.embedded.start()
            self.background.spawn(self._recover(), "recover-runs")
        self.background.spawn(self._retention_loop(), "retention")
        self.background.spawn(self._wal_loop(), "wal-checkpoint")
        self.memory.start()

    async def _recover(self) -> None:
        try:
            outcomes = await recover_runs(self)
            if outcomes:
                logger.info("recovered unfinished runs after the restart: %s", dict(outcomes))
        except Exception:
            logger.exception("recovering unfinished runs failed; they resume on /start or run.get")

    async def _wal_loop(self) -> None:
        """Autocheckpoint is off in runs.db and the embedded plane's control.db (it would fsync inside a
        COMMIT on the event loop); their WALs are folded here, in a worker thread."""
        while True:
            await asyncio.sleep(30)
            try:
                await asyncio.to_thread(self.db.checkpoint)
                if self.embedded is not None:
                    await asyncio.to_thread((await self.embedded.plane()).fold_wal)
            except Exception:
                logger.exception("WAL checkpoint failed; will retry")

    async def _retention_loop(self) -> None:
        while True:
            try:
                result = prune(
                    self.db,
                    max_age_days=self.settings.retention_days,
                    max_runs=self.settings.retention_max_runs,
                )
                if result.runs:
                    logger.info("retention pruned %d finished runs (%d events)", result.runs, result.events)
            except Exception:
                logger.exception("retention failed; will retry")
            await asyncio.sleep(3600)

    def extra_methods(self) -> dict[str, object]:
        """JSON-RPC methods over the memory and skills packages (operator access)."""
        return operator_methods(self)

    async def aclose(self) -> None:
        self.db.storage.closing = True  # a run waiting for disk space stops waiting: it resumes after restart
        self.background.cancel_all()
        await self.manager.shutdown(self.settings.shutdown_grace_s)
        await self.forwarding.aclose()
        await self.memory.aclose()
        await self.control.aclose()
        await self.remote_planes.aclose()
        await self.models.aclose()
        if self.tracer is not None:
            self.tracer.shutdown()  # flushes the spans still buffered
        self.db.close()


def _ingest(memory: MemoryHost, manager: RunManager, event: Event) -> None:
    """Hook-bus subscriber: every run event becomes memory (never blocking the loop)."""
    handle = manager.runs.get(event.run_id)
    space = handle.state.space_id if handle is not None and handle.state is not None else None
    if space is None and event.type == RunStarted.TYPE:
        space = event.data.get("spaceId")
    if space is not None:
        memory.on_event(space, event)


async def _distill(memory: MemoryHost, background: BackgroundTasks, state: RunState) -> None:
    """After a run: distil its facts and graph in the background (the run is already complete)."""

    async def distill() -> None:
        try:
            await memory.distill(state.space_id, state.run_id)
        except Exception:
            logger.exception("distilling run %s failed", state.run_id)

    background.spawn(distill(), f"distill-{state.run_id}")
