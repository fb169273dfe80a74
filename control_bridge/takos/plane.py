"""TakosControlPlane: the ControlPlane protocol over Takos's agent-control endpoints, for one run and lease.

The loop calls the same methods as on the JSON-RPC transport; this class turns each into the Takos call(s)
Takos's own container makes (CONTRACT.md §6–§11): a synchronous heartbeat fences the lease before anything
else; `run.bootstrap` fetches bootstrap, config, tool catalog and history in Takos's order (the run's input
is the last user message of the history); events go one per call with their own sequence 1..N;
checkpoints travel in the engine envelope; `run.complete` becomes tool-cleanup + one atomic `complete-run`.
After lease or authority loss no further call leaves this object; after `complete-run` the token is dead,
so nothing more is sent either.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from control_bridge import contract as c
from control_bridge._params import coerce_params
from control_bridge.errors import BridgeError, InvalidParams, LeaseLost, NotFound, ProtocolError
from control_bridge.protocol import ControlPlaneBase
from control_bridge.takos import mapping as m
from control_bridge.takos import wire as w
from control_bridge.takos.checkpoint import unwrap, usage_of, wrap
from control_bridge.takos.errors import RunFatal, UncertainOutcome
from control_bridge.takos.events import EventMapper
from control_bridge.takos.http import TakosHttp
from control_bridge.wire import WireModel

logger = logging.getLogger(__name__)

Handler = Callable[[Any], Awaitable[WireModel]]


class TakosControlPlane(ControlPlaneBase):
    """One run's transport. `allowlist` as `parse_allowlist` returns it."""

    def __init__(
        self,
        identity: w.Identity,
        *,
        allowlist: frozenset[str] | None = frozenset({"*"}),
        http: TakosHttp | None = None,
    ) -> None:
        self.identity = identity
        self.http = http or TakosHttp(identity)
        self.allowlist = allowlist
        self.lost: LeaseLost | None = None
        """Set on the first lease/authority loss: every later call fails here, without the network."""
        self.finalized = False
        self.fatal: str | None = None
        self._fenced = False
        self._cleaned = False
        self._ending = asyncio.Lock()
        """Held by complete-run: a heartbeat waits for it (the commit revokes the token under its feet)."""
        self._bootstrap: w.Bootstrap | None = None
        self._config: w.RunConfig | None = None
        self._history: list[dict[str, Any]] | None = None
        self._catalog: list[dict[str, Any]] | None = None
        self._mapper = EventMapper()
        self.sequence = 0
        """The last Takos run-event sequence sent (1..N for this lease)."""
        self._forwarded = 0
        """Our highest event sequence seen: events at or below it are not sent (again)."""
        self._handlers: dict[str, Handler] = {
            "run.bootstrap": self._run_bootstrap,
            "run.config": self._run_config,
            "conversation.history": self._conversation_history,
            "tools.catalog": self._tools_catalog,
            "tools.execute": self._tools_execute,
            "tools.cleanup": self._tools_cleanup,
            "skills.runtimeContext": self._skills_runtime_context,
            "run.heartbeat": self._run_heartbeat,
            "run.isCancelled": self._run_is_cancelled,
            "run.events.append": self._run_events_append,
            "run.checkpoint.save": self._checkpoint_save,
            "run.checkpoint.load": self._checkpoint_load,
            "run.complete": self._run_complete,
            "secrets.apiKeys": self._api_keys,
        }

    def __repr__(self) -> str:
        return f"TakosControlPlane(runId={self.identity.run_id!r}, lease={self.identity.lease_version})"

    async def call(self, method: str, params: WireModel) -> WireModel:
        handler = self._handlers.get(method)
        spec = c.METHODS.get(method)
        if handler is None or spec is None:
            raise NotFound(f"the Takos transport has no method {method!r}")
        p = coerce_params(spec[0], params)
        run_id = getattr(p, "run_id", None)
        if run_id != self.identity.run_id:
            raise InvalidParams(f"this transport speaks for run {self.identity.run_id!r}, not {run_id!r}")
        return await handler(p)

    async def aclose(self) -> None:
        await self.http.aclose()

    # --- the channel ---------------------------------------------------------------------------------------
    @property
    def _ref(self) -> dict[str, Any]:
        return {"runId": self.identity.run_id}

    async def _post(self, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        if self.lost is not None:
            raise self.lost
        if self.finalized:
            raise LeaseLost(f"{endpoint}: the run is finalized; its token is revoked")
        if not self._fenced and endpoint != "heartbeat":
            await self._heartbeat()
        try:
            return await self.http.post(endpoint, body)
        except LeaseLost as exc:
            self.lost = exc
            logger.warning("run %s: %s; stopping without finalizing", self.identity.run_id, exc.message)
            raise

    async def _heartbeat(self) -> None:
        ident = self.identity
        body = {
            "runId": ident.run_id,
            "workerId": ident.worker_id,
            "serviceId": ident.service_id,
            "leaseVersion": ident.lease_version,
        }
        self._fenced = True  # (a failed fence fails its caller, as in Takos; it is not tried again)
        await self._post("heartbeat", body)

    # --- bootstrap: heartbeat → run-bootstrap → run-config → tool-catalog → conversation-history -----------
    async def _load_bootstrap(self) -> w.Bootstrap:
        if self._bootstrap is None:
            self._bootstrap = w.parse(
                w.Bootstrap, await self._post("run-bootstrap", self._ref), "run-bootstrap"
            )
        return self._bootstrap

    async def _load_config(self) -> w.RunConfig:
        if self._config is None:
            boot = await self._load_bootstrap()
            body = {**self._ref, "agentType": boot.agent_type}
            self._config = w.parse(w.RunConfig, await self._post("run-config", body), "run-config")
        return self._config

    async def _load_catalog(self) -> list[dict[str, Any]]:
        if self._catalog is None:
            answer = w.parse(w.ToolCatalog, await self._post("tool-catalog", self._ref), "tool-catalog")
            self._catalog = answer.tools
        return self._catalog

    async def _load_history(self) -> list[dict[str, Any]]:
        if self._history is None:
            boot = await self._load_bootstrap()
            if not self.identity.model:
                raise InvalidParams(
                    "conversation-history needs the run's model (aiModel), and /start gave none"
                )
            body = {
                **self._ref,
                "threadId": boot.thread_id,
                "spaceId": boot.space_id,
                "aiModel": self.identity.model,
            }
            raw = await self._post("conversation-history", body)
            w.parse(w.History, raw, "conversation-history")  # validates the shape once
            self._history = [h for h in raw.get("history") or [] if isinstance(h, dict)]
        return self._history

    def _history_items(self) -> list[w.HistoryItem]:
        return w.History.model_validate({"history": self._history or []}).history

    async def _run_bootstrap(self, p: c.RunBootstrapParams) -> c.RunBootstrapResult:
        boot = await self._load_bootstrap()
        config = await self._load_config()
        if not (config.system_prompt or "").strip():
            raise InvalidParams("run-config gave an empty systemPrompt: the run cannot be prompted")
        await self._load_catalog()
        await self._load_history()
        user = next(
            (h.content for h in reversed(self._history_items()) if h.role == "user" and h.content.strip()),
            None,
        )
        if user is None:
            raise InvalidParams("the conversation history has no current user message for this run")
        return c.RunBootstrapResult(
            run_id=self.identity.run_id,
            status="running",  # (the heartbeat fence just proved it: the lease fence needs `running`)
            space_id=boot.space_id,
            session_id=w.engine_session_id(boot.thread_id),
            thread_id=boot.thread_id,
            user_id=boot.user_id,
            agent_type=boot.agent_type or "default",
            input=user,
            labels={k: v for k, v in (("installationId", boot.installation_id),) if v},
            lease_version=self.identity.lease_version,
        )

    async def _run_config(self, p: c.RunConfigParams) -> c.RunConfigResult:
        config = await self._load_config()
        max_calls = m.tool_call_cap(config)
        return c.RunConfigResult(
            system_prompt=config.system_prompt,
            temperature=config.temperature,
            max_tokens=m.MAX_TOKENS,
            # No person answers inside a Takos run: no ask_user, no confirmation stops (nothing could resume).
            policy=c.PolicyConfig(max_tool_calls=max_calls, interrupts_allowed=False),
        )

    async def _conversation_history(self, p: c.ConversationHistoryParams) -> c.ConversationHistoryResult:
        await self._load_history()
        boot = await self._load_bootstrap()
        messages = m.history_messages(self._history_items())
        return c.ConversationHistoryResult(thread_id=boot.thread_id, messages=messages[-p.limit :])

    # --- tools -------------------------------------------------------------------------------------------
    def _allowed(self, name: str) -> bool:
        return self.allowlist is not None and ("*" in self.allowlist or name in self.allowlist)

    async def _tools_catalog(self, p: c.ToolsCatalogParams) -> c.ToolsCatalogResult:
        tools = [m.remote_tool(raw) for raw in await self._load_catalog()]
        return c.ToolsCatalogResult(tools=[t for t in tools if t is not None and self._allowed(t.name)])

    async def _tools_execute(self, p: c.ToolsExecuteParams) -> c.ToolsExecuteResult:
        call = p.tool_call
        if not self._allowed(call.name):
            return c.ToolsExecuteResult(
                tool_call_id=call.id,
                error=c.ToolExecutionError(
                    kind="domain_rejection", message=f"tool_not_permitted: {call.name}"
                ),
            )
        body = {
            **self._ref,
            "leaseVersion": self.identity.lease_version,
            "toolCall": {"id": call.id, "name": call.name, "arguments": call.arguments},
            "idempotencyKey": m.idempotency_key(p.idempotency_key),
        }
        result = w.parse(w.ToolResult, await self._post("tool-execute", body), "tool-execute")
        if result.outcome_uncertain:
            self.fatal = m.UNCERTAIN_FATAL
            raise UncertainOutcome(f"{call.name}: {m.UNCERTAIN_FATAL}")
        if result.tool_call_id != call.id:
            raise ProtocolError(f"tool-execute answered for {result.tool_call_id!r}, not {call.id!r}")
        error = c.ToolExecutionError(kind="domain_rejection", message=result.error) if result.error else None
        return c.ToolsExecuteResult(tool_call_id=call.id, output=result.output, error=error)

    async def _tools_cleanup(self, p: c.ToolsCleanupParams) -> c.ToolsCleanupResult:
        await self._cleanup()
        return c.ToolsCleanupResult()

    async def _cleanup(self) -> None:
        if self._cleaned or self.finalized or self.lost is not None:
            return
        self._cleaned = True
        try:
            await self._post("tool-cleanup", self._ref)
        except LeaseLost:
            raise
        except BridgeError as exc:
            logger.warning("tool-cleanup failed for %s: %s", self.identity.run_id, exc.message)

    # --- skills ------------------------------------------------------------------------------------------
    async def _skills_runtime_context(self, p: c.SkillsRuntimeContextParams) -> c.SkillsRuntimeContextResult:
        boot = await self._load_bootstrap()
        history = await self._load_history()
        names = [str(t.get("name")) for t in await self._load_catalog() if isinstance(t.get("name"), str)]
        body = {
            **self._ref,
            "threadId": boot.thread_id,
            "spaceId": boot.space_id,
            "agentType": boot.agent_type or "default",
            "history": history,
            "availableToolNames": names,
        }
        answer = w.parse(
            w.SkillContext, await self._post("skill-runtime-context", body), "skill-runtime-context"
        )
        return m.skills_result(answer)

    # --- lease ---------------------------------------------------------------------------------------------
    async def _run_heartbeat(self, p: c.RunHeartbeatParams) -> c.RunHeartbeatResult:
        async with self._ending:
            if self.finalized:
                return c.RunHeartbeatResult(ok=True, lease_version=self.identity.lease_version)
            await self._heartbeat()
        return c.RunHeartbeatResult(ok=True, lease_version=self.identity.lease_version)

    async def _run_is_cancelled(self, p: c.RunIsCancelledParams) -> c.RunIsCancelledResult:
        # Takos's container never asks: a cancelled run fails the lease fence (409) at the next heartbeat.
        if self.lost is not None:
            raise self.lost
        return c.RunIsCancelledResult(cancelled=False)

    # --- events --------------------------------------------------------------------------------------------
    async def _run_events_append(self, p: c.RunEventsAppendParams) -> c.RunEventsAppendResult:
        accepted = duplicates = 0
        for event in p.events:
            if event.sequence <= self._forwarded:
                duplicates += 1
                continue
            self._forwarded = event.sequence
            mapped = self._mapper.map(event.type, event.data, event.time)
            if mapped is None or self.finalized:
                continue
            type_, data = mapped
            self.sequence += 1
            body = {
                **self._ref,
                "type": type_,
                "data": data,
                "sequence": self.sequence,
                "leaseVersion": self.identity.lease_version,
            }
            try:
                await self._post("run-event", body)
                accepted += 1
            except LeaseLost:
                raise
            except BridgeError as exc:  # Takos's container ignores event errors too
                logger.info("run-event %s for %s failed: %s", type_, self.identity.run_id, exc.message)
        return c.RunEventsAppendResult(
            accepted=accepted, duplicates=duplicates, last_sequence=self._forwarded
        )

    # --- checkpoints ---------------------------------------------------------------------------------------
    async def _checkpoint_save(self, p: c.RunCheckpointSaveParams) -> c.RunCheckpointSaveResult:
        if self.lost is not None:
            raise self.lost
        envelope = wrap(p.state, p.version, str(p.state.get("session_id") or p.run_id))
        if self.fatal is None and not self.finalized and envelope is not None:
            body = {
                **self._ref,
                "leaseVersion": self.identity.lease_version,
                "checkpoint": envelope,
                "usage": usage_of(p.state),
                "checkpointProtocolVersion": self.identity.checkpoint_protocol_version,
            }
            await self._post("engine-checkpoint-save", body)
        return c.RunCheckpointSaveResult(version=p.version)

    async def _checkpoint_load(self, p: c.RunCheckpointLoadParams) -> c.RunCheckpointLoadResult:
        # Takos's order: the run's context (bootstrap, config, catalog, history) before its checkpoint.
        await self._load_config()
        await self._load_catalog()
        await self._load_history()
        body = {
            **self._ref,
            "leaseVersion": self.identity.lease_version,
            "checkpointProtocolVersion": self.identity.checkpoint_protocol_version,
        }
        answer = w.parse(
            w.CheckpointLoad, await self._post("engine-checkpoint-load", body), "engine-checkpoint-load"
        )
        if answer.fatal_error:
            self.fatal = answer.fatal_error
            raise RunFatal(answer.fatal_error)
        found = unwrap(answer.checkpoint)
        if found is None:
            if answer.checkpoint is not None:
                logger.warning("run %s: the stored checkpoint is not ours; starting over", p.run_id)
            return c.RunCheckpointLoadResult()
        version, state = found
        last = state.get("last_sequence")
        if isinstance(last, int):
            self._forwarded = max(self._forwarded, last)  # the previous lease reported those
        return c.RunCheckpointLoadResult(version=version, state=state)

    # --- the end -------------------------------------------------------------------------------------------
    async def _run_complete(self, p: c.RunCompleteParams) -> c.RunCompleteResult:
        if self.finalized:
            return c.RunCompleteResult(status=p.status, already_completed=True)
        if self.fatal is None and (
            self.lost is not None or (p.status == "canceled" and p.reason == "lease_lost")
        ):
            # The run's authority is gone: another owner (or the cancel) decides its outcome, not us.
            return c.RunCompleteResult(status=p.status)
        status: c.TerminalStatus = "completed" if p.status == "completed" and self.fatal is None else "failed"
        body = m.complete_run_body(self.identity, p, status, self.fatal)
        await self._cleanup()
        async with self._ending:
            try:
                await self._post("complete-run", body)
            except LeaseLost:
                return c.RunCompleteResult(status=p.status)  # a stale outcome: skipped, as Takos does
            self.finalized = True
        return c.RunCompleteResult(status=status)

    async def _api_keys(self, p: c.SecretsApiKeysParams) -> c.SecretsApiKeysResult:
        answer = w.parse(w.ApiKeys, await self._post("api-keys", self._ref), "api-keys")
        keys: dict[str, str] = {}
        if answer.openai:
            keys[m.MODEL_KEY] = answer.openai
        if answer.openai_endpoint:
            keys[m.ENDPOINT_KEY] = answer.openai_endpoint
        return c.SecretsApiKeysResult(keys=keys)
