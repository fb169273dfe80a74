"""Making a run ready to drive: its state (from a checkpoint, or bootstrapped from the control plane) and
its loop (tools, model, prompt builder), in the order the control-plane contract calls for."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from agent.events.forwarding import EventForwarding
from agent.events.log import RunLog
from agent.events.payloads import (
    EventData,
    PhaseChanged,
    PolicyDecision,
    RunResumed,
    RunStarted,
    ToolShadowed,
)
from agent.models.base import ModelClient
from agent.redaction import redact
from agent.runtime.checkpoints import CheckpointStore
from agent.runtime.history import history_to_transcript
from agent.runtime.loop import RunDeps, RunLoop
from agent.runtime.policy import PolicyOverride, RunPolicy, apply_override, from_config
from agent.runtime.prompting import PromptBuilder
from agent.runtime.remote_checkpoints import RemoteCheckpoints
from agent.runtime.requests import RunError
from agent.runtime.state import RunState
from agent.runtime.templates import Templates
from agent.tools.registry import TOOL_OUTAGE_WINDOW_S, ToolRegistry
from agent.tools.spec import Tool
from control_bridge import contract as c
from control_bridge.protocol import ControlPlaneBase

if TYPE_CHECKING:
    from agent.runtime.manager import RunHandle

PROVIDERS_WITH_KEYS = ("openai", "anthropic", "openai-compatible", "takos")
"""(`takos:MODEL` is a Takos run's model: its credential and endpoint come from the Worker's api-keys.)"""
LOCAL_MODEL = "local:echo"
"""The keyless local runner's name everywhere it is shown (`run.get`, `run.started`, `/health`)."""


@dataclass
class RunExtras:
    """What the server adds to a run: local tools, a prompt builder and events to log at loop start."""

    tools: list[Tool] = field(default_factory=list)
    build_prompt: PromptBuilder | None = None
    events: list[EventData] = field(default_factory=list)


class ChildRuns(Protocol):
    """How a run's agent tools start and wait for child runs (the manager)."""

    async def run_child(self, run_id: str, lease_version: int, model: str | None) -> RunState | None: ...

    def link_child(self, parent_run_id: str, event: EventData, key: str) -> None: ...


RunContextFactory = Callable[
    [RunState, ControlPlaneBase, list[c.RemoteTool], ChildRuns], Awaitable[RunExtras]
]
ModelFactory = Callable[[str | None, dict[str, str]], ModelClient]


@dataclass
class RunBuilder:
    log: RunLog
    checkpoints: CheckpointStore
    model_factory: ModelFactory
    templates: Templates
    forwarding: EventForwarding | None
    default_policy: RunPolicy
    default_model: str | None
    heartbeat_interval_s: float
    run_context: RunContextFactory | None = None
    tool_outage_window_s: float = TOOL_OUTAGE_WINDOW_S

    def forwarding_for(self, control: ControlPlaneBase) -> EventForwarding | None:
        """The event forwarding for runs on `control`, or None: an in-process control plane shares DATA_DIR
        with the run log, the one copy of the events (SSE and run.events serve them), so it gets no copies."""
        return None if control.in_process else self.forwarding

    async def prepare(
        self, handle: RunHandle, override: PolicyOverride | None, session_hint: str | None = None
    ) -> RunState:
        """The run's state: the newest checkpoint (local or the control plane's), else a new one."""
        ref = c.RunRef(run_id=handle.run_id, lease_version=handle.lease_version)
        saved = None if handle.created else self.checkpoints.load(handle.run_id)
        if not handle.created and (saved is None or not handle.control.in_process):
            # Another container may have taken the run further since this one last held it: the newer
            # checkpoint wins (an older one would repeat steps and reuse event numbers).
            remote = await handle.control.run_checkpoint_load(ref.as_(c.RunCheckpointLoadParams))
            if remote.state is not None:
                theirs = RunState.model_validate(remote.state)
                if saved is None or (theirs.lease_version, theirs.step, theirs.checkpoint_version) > (
                    saved.lease_version,
                    saved.step,
                    saved.checkpoint_version,
                ):
                    saved = theirs
                    self.log.continue_after(handle.run_id, saved.last_sequence)
        forwarding = self.forwarding_for(handle.control)
        if saved is not None and forwarding is not None:
            # The control plane may have missed events committed just before a crash: resend (it de-duplicates).
            forwarding.attach(handle.run_id, handle.control, handle.lease_version or saved.lease_version)
            await forwarding.publish(self.log.read(handle.run_id, after=0, limit=1_000_000))
        if saved is not None:
            saved.lease_version = handle.lease_version or saved.lease_version
            if not saved.terminal:
                self.log.append(
                    handle.run_id,
                    RunResumed(phase=saved.phase, lease_version=saved.lease_version, step=saved.step),
                )
            return saved
        return await self._bootstrap(handle, override)

    async def _bootstrap(self, handle: RunHandle, override: PolicyOverride | None) -> RunState:
        ref = c.RunRef(run_id=handle.run_id, lease_version=handle.lease_version)
        boot = await handle.control.run_bootstrap(ref.as_(c.RunBootstrapParams))
        if not boot.session_id.strip():
            raise RunError("invalid", "the control plane gave this run a blank sessionId")
        handle.lease_version = handle.lease_version or boot.lease_version
        ref = c.RunRef(run_id=handle.run_id, lease_version=handle.lease_version)
        config = await handle.control.run_config(ref.as_(c.RunConfigParams))
        history = await handle.control.conversation_history(ref.as_(c.ConversationHistoryParams))
        policy = apply_override(from_config(self.default_policy, config.policy), override)
        labels = {**policy.labels, **boot.labels}
        state = RunState(
            run_id=handle.run_id,
            session_id=boot.session_id,
            thread_id=boot.thread_id,
            space_id=boot.space_id,
            agent_type=boot.agent_type,
            input=boot.input,
            labels=labels,
            lease_version=handle.lease_version,
            model=handle.model or config.model or self.default_model or LOCAL_MODEL,
            system_prompt=config.system_prompt,
            temperature=config.temperature,
            max_tokens=config.max_tokens,
            locale=boot.locale,
            policy=policy.model_copy(update={"labels": labels}),
        )
        state.transcript = history_to_transcript(history.messages, boot.input)
        state.input_index = len(state.transcript) - 1
        run_id = handle.run_id
        self.log.append(
            run_id,
            RunStarted(
                run_id=state.run_id,
                session_id=state.session_id,
                thread_id=state.thread_id,
                space_id=state.space_id,
                agent_type=state.agent_type,
                input=state.input,
                labels=state.labels,
                model=redact(state.model),
            ),
            key="run.started",
        )
        self.log.append(run_id, PolicyDecision(policy=state.policy, override=override is not None))
        self.log.append(run_id, PhaseChanged(from_=None, to="prompted"))
        return state

    async def make_loop(
        self,
        handle: RunHandle,
        state: RunState,
        children: ChildRuns,
        report_complete: Callable[[RunHandle, RunState], Awaitable[None]],
    ) -> RunLoop:
        ref = c.RunRef(run_id=handle.run_id, lease_version=state.lease_version)
        forwarding = self.forwarding_for(handle.control)
        if forwarding is not None:
            forwarding.attach(handle.run_id, handle.control, state.lease_version)
        catalog = await handle.control.tools_catalog(ref.as_(c.ToolsCatalogParams))
        extras = (
            await self.run_context(state, handle.control, catalog.tools, children)
            if self.run_context
            else RunExtras()
        )
        registry = ToolRegistry.build(
            extras.tools,
            catalog.tools,
            handle.control,
            state.policy,
            outage_window_s=self.tool_outage_window_s,
        )
        for event in extras.events:
            self.log.append(handle.run_id, event)
        for name in registry.shadowed:
            self.log.append(
                handle.run_id, ToolShadowed(tool_name=name, winner="local"), key=f"tool.shadowed:{name}"
            )
        keys: dict[str, str] = {}
        if state.model.split(":", 1)[0] in PROVIDERS_WITH_KEYS:
            keys = (await handle.control.secrets_api_keys(ref.as_(c.SecretsApiKeysParams))).keys
        deps = RunDeps(
            control=handle.control,
            log=self.log,
            checkpoints=self.checkpoints,
            model=self.model_factory(state.model, keys),
            registry=registry,
            templates=self.templates,
            build_prompt=extras.build_prompt,
            heartbeat_interval_s=self.heartbeat_interval_s,
            report_complete=functools.partial(report_complete, handle),
            # An in-process control plane shares DATA_DIR with the local checkpoints: nothing to mirror.
            remote=None if handle.control.in_process else RemoteCheckpoints(handle.control),
        )
        return RunLoop(state, deps)
