"""Tool admission: wrappers around the run's tools that decide whether a call may run now.

A call that must wait for a person raises `AwaitRequired` from `admit`; the tool step collects those and the
run suspends. The wrappers compose like Pydantic AI's toolsets (`approval_required.py`):
`ConfirmationRequired(Clarification(RegistryToolset(registry)))`. Which tools exist at all (local winning over
remote, the policy's allow and block lists) is the registry's filter, applied when the run's tools are built.
"""

from __future__ import annotations

from typing import Protocol

from agent.models.types import ToolUsePart
from agent.runtime.signals import AwaitRequired
from agent.runtime.state import PendingAwait, RunState
from agent.runtime.templates import Templates
from agent.tools.builtin import AskUserTool
from agent.tools.registry import ToolRegistry
from agent.tools.spec import Tool

ASK_USER = AskUserTool.spec.name


class Toolset(Protocol):
    registry: ToolRegistry

    def admit(self, call: ToolUsePart, state: RunState) -> None:
        """Returns when the call may run now; raises AwaitRequired when it waits for a person."""

    def harmless(self, call: ToolUsePart, state: RunState) -> bool:
        """Safe to run again after a crash and runs without asking anyone (a pure local tool)."""


class RegistryToolset:
    """The run's tools as they are: every call is admitted."""

    def __init__(self, registry: ToolRegistry) -> None:
        self.registry = registry

    def admit(self, call: ToolUsePart, state: RunState) -> None:
        return None

    def harmless(self, call: ToolUsePart, state: RunState) -> bool:
        tool = self.registry.get(call.name)
        return tool is not None and not tool.spec.side_effects and tool.spec.source == "local"


class WrapperToolset:
    def __init__(self, inner: Toolset) -> None:
        self.inner = inner
        self.registry = inner.registry

    def admit(self, call: ToolUsePart, state: RunState) -> None:
        self.inner.admit(call, state)

    def harmless(self, call: ToolUsePart, state: RunState) -> bool:
        return self.inner.harmless(call, state)


class Clarification(WrapperToolset):
    """`ask_user` with interrupts allowed suspends the run with the model's question; the answer becomes the
    call's result. With interrupts off the call runs, and the tool says it may not ask."""

    def admit(self, call: ToolUsePart, state: RunState) -> None:
        if call.name == ASK_USER and state.policy.interrupts_allowed and call.raw_arguments is None:
            question = str(call.arguments.get("question", "")) or "The agent has a question."
            raise AwaitRequired(
                PendingAwait(
                    await_id=f"await-{call.id}",
                    kind="clarification",
                    tool_call_id=call.id,
                    tool_name=call.name,
                    title="The agent asks",
                    prompt=question,
                    payload={"arguments": call.arguments},
                )
            )
        self.inner.admit(call, state)

    def harmless(self, call: ToolUsePart, state: RunState) -> bool:
        return call.name != ASK_USER and self.inner.harmless(call, state)


class ConfirmationRequired(WrapperToolset):
    """A tool that needs a person's approval (its spec, its risk level, or the policy) waits for it once;
    the decision is recorded in `state.approvals` and the call is admitted after it."""

    def __init__(self, inner: Toolset, templates: Templates) -> None:
        super().__init__(inner)
        self._templates = templates

    def _needs(self, tool: Tool | None, call: ToolUsePart, state: RunState) -> bool:
        if tool is None:
            return False
        return tool.spec.requires_confirmation or call.name in state.policy.require_confirmation

    def admit(self, call: ToolUsePart, state: RunState) -> None:
        if call.id not in state.approvals and self._needs(self.registry.get(call.name), call, state):
            ctx = {"tool_name": call.name, "tool_call_id": call.id, "arguments": call.arguments}
            raise AwaitRequired(
                PendingAwait(
                    await_id=f"await-{call.id}",
                    kind="confirmation",
                    tool_call_id=call.id,
                    tool_name=call.name,
                    title=self._templates.render("confirmation_title", **ctx),
                    prompt=self._templates.render("confirmation_prompt", **ctx),
                    payload={"arguments": call.arguments},
                )
            )
        self.inner.admit(call, state)

    def harmless(self, call: ToolUsePart, state: RunState) -> bool:
        return not self._needs(self.registry.get(call.name), call, state) and self.inner.harmless(call, state)


def admission(registry: ToolRegistry, templates: Templates) -> Toolset:
    """The admission chain every run uses."""
    return ConfirmationRequired(Clarification(RegistryToolset(registry)), templates)
