"""The container's JSON-RPC method table (control plane → container)."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from agent.events.types import profile_types
from agent.models.errors import ModelConfigError
from agent.redaction import redact
from agent.runtime.manager import RunHandle
from agent.runtime.policy import PolicyOverride
from agent.runtime.requests import ContinueRequest, RunError, StartRequest
from agent.server.mcp_wiring import mcp_health
from agent.server.views import Health, MemoryHealth, RunCapacity, RunView
from agent.storage import is_storage_full
from control_bridge.contract import RunIdParams
from control_bridge.errors import BridgeError, Conflict, InvalidParams, NotFound, Unavailable
from control_bridge.jsonrpc import MethodTable
from control_bridge.wire import WireModel

if TYPE_CHECKING:
    from agent.server.services import Services


class RunParams(RunIdParams):
    """The contract's run reference, refusing unknown members: a mistyped key is an error, not ignored."""

    model_config = ConfigDict(extra="forbid")


class CancelParams(RunParams):
    reason: str = Field(default="user_requested", min_length=1, max_length=200)


class EventsParams(RunParams):
    after: int = Field(default=0, ge=0, le=2**63 - 1)
    limit: int = Field(default=100, ge=1, le=1000)
    profile: str = "debug"


class EventsPage(WireModel):
    """A cursor page of `run.events`: continue with `after=next`; `done` once the terminal event is in it."""

    run_id: str
    events: list[dict[str, Any]]
    next: int
    done: bool


class OverrideResult(WireModel):
    applied: bool
    applies_to: str
    override: dict[str, Any]


def _params(model: type[BaseModel], params: Any) -> Any:
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise InvalidParams("params must be an object with named members")
    return model.model_validate(params)


def run_error(exc: RunError) -> BridgeError:
    cls = {"not_found": NotFound, "conflict": Conflict, "invalid": InvalidParams, "capacity": Unavailable}
    return cls[exc.code](exc.message, data=exc.data or None)


def run_view(services: Services, handle: RunHandle) -> dict[str, Any]:
    state = handle.state
    if state is None:
        terminal = services.log.terminal_event(handle.run_id)
        status = terminal.type.removeprefix("run.") if terminal else "pending"
        view = RunView.model_validate(
            {"runId": handle.run_id, "status": status, "phase": status if terminal else "prompted"}
        )
        return view.wire()
    last = next((m.text_content for m in reversed(state.transcript) if m.role == "assistant"), None)
    return RunView(
        run_id=state.run_id,
        session_id=state.session_id,
        thread_id=state.thread_id,
        space_id=state.space_id,
        status=state.status,
        phase=state.phase,
        model=redact(state.model),
        labels=state.labels,
        policy=state.policy,
        usage=state.usage,
        pending_awaits=state.pending,
        last_assistant_message=last,
        output=state.output,
        error=state.error,
        reason=state.reason,
        step=state.step,
        lease_version=state.lease_version,
        last_sequence=services.log.last_sequence(state.run_id),
    ).model_dump(mode="json", by_alias=True)


def health(services: Services) -> dict[str, Any]:
    manager = services.manager
    active = manager.active
    maximum = manager.config.max_concurrent_runs
    storage = services.db.storage.health()
    return Health(
        status=("ok" if storage.ok else "degraded") if manager.accepting else "draining",
        service="takos-agent" if services.takos is not None else "agent-container",  # (Takos's contract type)
        version=_version(),
        runs=RunCapacity(active=active, max=maximum, available=max(0, maximum - active)),
        model=services.model_name,
        language_model=services.is_language_model,
        control_plane="embedded" if services.embedded is not None else "remote",
        storage=storage,
        mcp=mcp_health(services),
        memory=memory_health(services),
    ).wire()


def memory_health(services: Services) -> MemoryHealth | None:
    service = services.memory.service
    if service is None:  # still opening, or failed to open (runs go on without memory tools)
        return None
    return MemoryHealth(embedder=service.identity.name, dense_ready=service.dense_ready)


def _version() -> str:
    from agent import __version__

    return __version__


def build_methods(services: Services) -> MethodTable:
    manager = services.manager

    async def agent_health(params: Any) -> Any:
        return health(services)

    async def run_start(params: Any) -> Any:
        req = _params(StartRequest, params)
        try:
            services.models.check(req.model)
        except ModelConfigError as exc:
            raise InvalidParams(str(exc)) from None
        storage = services.db.storage.health()
        if not storage.ok:
            raise Unavailable(f"not accepting runs: {storage.reason}", data={"storage": storage.wire()})
        try:
            result = await manager.start(req)
        except RunError as exc:
            raise run_error(exc) from None
        return result.model_dump(by_alias=True, exclude_none=True)

    async def run_get(params: Any) -> Any:
        p = _params(RunParams, params)
        try:
            return run_view(services, manager.get(p.run_id))
        except RunError as exc:
            raise run_error(exc) from None

    async def run_events(params: Any) -> Any:
        p = _params(EventsParams, params)
        try:
            types = profile_types(p.profile)
            manager.get(p.run_id)
        except ValueError as exc:
            raise InvalidParams(str(exc)) from None
        except RunError as exc:
            raise run_error(exc) from None
        events = services.log.read(p.run_id, after=p.after, limit=p.limit, types=types)
        return EventsPage(
            run_id=p.run_id,
            events=[e.wire() for e in events],
            next=events[-1].sequence if events else p.after,
            done=any(e.terminal for e in events),
        ).wire()

    async def verb(params: Any, model: type[BaseModel], action: Any) -> Any:
        p = _params(model, params)
        try:
            handle = await action(p)
        except RunError as exc:
            raise run_error(exc) from None
        return run_view(services, handle)

    async def run_cancel(params: Any) -> Any:
        return await verb(params, CancelParams, lambda p: manager.cancel(p.run_id, p.reason))

    async def run_pause(params: Any) -> Any:
        return await verb(params, RunParams, lambda p: manager.pause(p.run_id))

    async def run_resume(params: Any) -> Any:
        return await verb(params, RunParams, lambda p: manager.resume(p.run_id))

    async def run_continue(params: Any) -> Any:
        return await verb(params, ContinueRequest, manager.continue_)

    async def policy_override(params: Any) -> Any:
        override = _params(PolicyOverride, params)
        manager.override = override
        return OverrideResult(
            applied=True,
            applies_to="runs started from now on",
            override=override.model_dump(by_alias=True, exclude_defaults=True),
        ).wire()

    methods: dict[str, Any] = {
        "agent.health": agent_health,
        "run.start": run_start,
        "run.get": run_get,
        "run.events": run_events,
        "run.cancel": run_cancel,
        "run.pause": run_pause,
        "run.resume": run_resume,
        "run.continue": run_continue,
        "policy.override": policy_override,
    }
    methods.update(services.extra_methods())
    return {name: _storage_errors_typed(fn, services) for name, fn in methods.items()}


def _storage_errors_typed(fn: Any, services: Services) -> Any:
    """A damaged page of runs.db (garbage written into the file) is a typed, explained error, not -32603."""

    async def method(params: Any) -> Any:
        try:
            return await fn(params)
        except sqlite3.DatabaseError as exc:
            if is_storage_full(exc):
                services.db.failed(exc)
                raise Unavailable(f"not written: {exc} under {services.db.path.parent}") from None
            raise Unavailable(
                f"the run log {services.db.path} could not be read here ({exc}): the file is damaged; stop the "
                "server and restore it from a backup (other runs may still be readable)",
                data={"type": "storage_damaged", "path": str(services.db.path)},
            ) from None

    return method
