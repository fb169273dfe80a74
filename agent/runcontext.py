"""Per-run context: the run's local tools, its skill selection and its prompt builder.

Built once when a run's loop is made (and again on resume), from the process-level pieces the server holds:
the memory service, the official skill catalog and the tokenizer. The loop only sees tools and a callable
that turns its state into the messages of the next model call.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic.alias_generators import to_camel

from agent.events.payloads import EventData, PromptRendered, SkillSelection
from agent.memoryhost import MemoryHost
from agent.models.types import Message
from agent.prompt import PromptInputs, build_prompt
from agent.runtime.bootstrap import ChildRuns, RunExtras
from agent.runtime.prompting import PromptParts
from agent.runtime.state import RunState
from agent.tokenizer import HeuristicTokenizer
from agent.tools.agent_tool import AgentTool, AgentToolConfig
from agent.tools.builtin import AskUserTool
from agent.tools.registry import AdaptedTool
from agent.tools.spec import Tool
from control_bridge import contract as c
from control_bridge.errors import BridgeError, LeaseLost
from control_bridge.protocol import ControlPlaneBase
from skills import TOOL_NAMES as SKILL_TOOL_NAMES
from skills import RunSkills, Skill, build_skill_tools, make_embedding_similarity, prepare_run_skills

logger = logging.getLogger(__name__)

MEMORY_SEARCH_TIMEOUT_S = 2.0
MEMORY_CONTEXT_TOKENS = 1500


class RunContextFactory:
    def __init__(
        self,
        *,
        official_skills: list[Skill],
        memory: MemoryHost | None,
        context_window: int,
        agent_tools: list[AgentToolConfig],
        create_run: Callable[[c.CreateRunParams], Awaitable[c.CreateRunResult]] | None,
    ) -> None:
        self.official_skills = official_skills
        self.memory = memory
        self.context_window = context_window
        self.agent_tools = agent_tools
        self.create_run = create_run
        self.tokenizer = HeuristicTokenizer()
        self._similarity: Any = None

    async def __call__(
        self, state: RunState, control: ControlPlaneBase, remote: list[c.RemoteTool], children: ChildRuns
    ) -> RunExtras:
        tools: list[Tool] = []
        if state.policy.interrupts_allowed:
            tools.append(AskUserTool())
        for config in self.agent_tools:
            tools.append(AgentTool(config, create_run=self.create_run, children=children))
        service = await self.memory.get() if self.memory is not None else None
        if service is not None:
            self.memory.warm()  # type: ignore[union-attr]
            from memory import build_memory_tools

            tools += [AdaptedTool(t, tags=("memory",)) for t in build_memory_tools(service)]
        run_skills = await self._skills(
            state, control, [t.spec.name for t in tools] + [r.name for r in remote], service
        )
        tools += [AdaptedTool(t, tags=("skills",)) for t in build_skill_tools(run_skills)]
        events: list[EventData] = []
        if run_skills.selection is not None:
            events.append(SkillSelection.model_validate(run_skills.selection.to_event()))
        return RunExtras(
            tools=tools, build_prompt=_PromptAssembler(self, state, run_skills, service), events=events
        )

    async def _skills(
        self, state: RunState, control: ControlPlaneBase, tool_names: list[str], memory: Any
    ) -> RunSkills:
        runtime: c.SkillsRuntimeContextResult | None = None
        try:
            runtime = await control.skills_runtime_context(
                c.SkillsRuntimeContextParams(run_id=state.run_id, lease_version=state.lease_version)
            )
        except LeaseLost:
            raise
        except BridgeError as exc:
            logger.warning(
                "skills.runtimeContext failed for %s (%s): official skills only", state.run_id, exc.name
            )
        user_messages = [m.text_content for m in state.transcript if m.role == "user" and m.text_content]
        similarity = None
        embedder = getattr(memory, "embedder", None)
        if getattr(embedder, "loaded", False):  # a real sentence model, already warm: rank by meaning too
            if self._similarity is None:
                self._similarity = make_embedding_similarity(embedder.embed_sync)  # type: ignore[union-attr]
            similarity = self._similarity
        prepare = functools.partial(
            prepare_run_skills,
            self.official_skills,
            runtime,
            user_messages=user_messages,
            tool_names=[*tool_names, *SKILL_TOOL_NAMES],
            run_input=state.input,
            agent_type=state.agent_type,
            explicit_locale=state.locale,
            embedder_similarity=similarity,
            count_tokens=self.tokenizer.count,
        )
        # Embedding the conversation is CPU work: off the event loop when it happens.
        run_skills = await asyncio.to_thread(prepare) if similarity is not None else prepare()
        state.locale = run_skills.locale
        return run_skills


class _PromptAssembler:
    """The loop's prompt builder for one run: sections and budgets from agent.prompt, plus the run's turns."""

    def __init__(
        self, factory: RunContextFactory, state: RunState, run_skills: RunSkills, memory: Any
    ) -> None:
        self.factory = factory
        self.memory = memory
        self.run_skills = run_skills
        self._memory_hits: list[Any] | None = None
        self._space = state.space_id

    async def _memory(self, query: str) -> list[Any]:
        if self._memory_hits is None:
            self._memory_hits = []
            memory = self.memory
            if memory is not None and query.strip():
                from memory import memory_context

                # Until the embedding model is loaded (it warms up after start), search by keywords rather
                # than make the run wait for it.
                ready = getattr(memory.embedder, "loaded", True)
                try:
                    self._memory_hits = await asyncio.wait_for(
                        memory_context(
                            memory,
                            self._space,
                            query,
                            MEMORY_CONTEXT_TOKENS,
                            mode="hybrid" if ready else "keyword",
                            count_tokens=self.factory.tokenizer.count,
                        ),
                        MEMORY_SEARCH_TIMEOUT_S,
                    )
                except Exception as exc:  # memory is context, never a reason to fail a run
                    logger.warning("memory context unavailable: %s", type(exc).__name__)
        return self._memory_hits or []

    async def __call__(self, parts: PromptParts) -> tuple[list[Message], PromptRendered | None]:
        s = parts.state
        i = s.input_index if 0 <= s.input_index < len(s.transcript) else len(s.transcript)
        history, run_turns = s.transcript[:i], s.transcript[i + 1 :]
        user = s.transcript[i].text_content if i < len(s.transcript) else ""
        selection = self.run_skills.selection
        built = build_prompt(
            PromptInputs(
                system_prompt=s.system_prompt,
                tools=parts.tools,
                agent_type=s.agent_type,
                locale=self.run_skills.locale,
                reminder=parts.reminder,
                activated_skills=list(selection.activated) if selection else [],
                skill_listing=list(selection.listed) if selection else [],
                skills_not_listed=selection.unlisted_count if selection else 0,
                memory_hits=await self._memory(user),
                history=history,
                user_message=user,
                context_window=self.factory.context_window,
            ),
            self.factory.tokenizer,
        )
        sections = dict(built.ledger)
        if run_turns:
            sections["run_turns"] = sum(
                self.factory.tokenizer.count(p.model_dump_json()) for m in run_turns for p in m.parts
            )
        rendered = PromptRendered(
            turn=s.turn,
            sections={to_camel(name): tokens for name, tokens in sections.items()},
            total=sum(sections.values()),
        )
        return [*built.messages, *run_turns], rendered
