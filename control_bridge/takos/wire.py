"""Takos's shapes: the run identity from `/start`, and the Worker's answers (validated, unknown keys ignored).

Request bodies are built in `plane.py` exactly as Takos's container sends them; answers are parsed here so
a malformed one becomes one typed `ProtocolError` instead of a KeyError deep in the loop.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from control_bridge.errors import ProtocolError

A = TypeVar("A", bound=BaseModel)


class Identity(BaseModel):
    """Who this container is for one run and lease: everything `/start` (or the environment) gave it."""

    model_config = ConfigDict(frozen=True)

    run_id: str = Field(min_length=1)
    service_id: str = Field(min_length=1)
    worker_id: str = Field(min_length=1)
    lease_version: int = Field(ge=0)
    base_url: str = Field(pattern=r"^https?://\S+$")
    token: str = Field(min_length=1, repr=False)
    model: str = ""
    executor_tier: int | None = Field(default=None, ge=1, le=3)
    executor_container_id: str | None = None
    checkpoint_protocol_version: int = 2

    @field_validator("base_url")
    @classmethod
    def _trim(cls, value: str) -> str:
        return value.rstrip("/")


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class Bootstrap(_Answer):
    status: str = "running"
    space_id: str = Field(alias="spaceId", min_length=1)
    thread_id: str = Field(alias="threadId", min_length=1)
    user_id: str | None = Field(default=None, alias="userId")
    agent_type: str | None = Field(default=None, alias="agentType")
    capsule_id: str | None = Field(default=None, alias="capsuleId")
    runtime_namespace: str | None = Field(default=None, alias="runtimeNamespace")
    installation_id: str | None = Field(default=None, alias="installationId")


class RunConfig(_Answer):
    agent_type: str | None = Field(default=None, alias="agentType")
    system_prompt: str | None = Field(default=None, alias="systemPrompt")
    max_graph_steps: int | None = Field(default=None, alias="maxGraphSteps")
    max_tool_rounds: int | None = Field(default=None, alias="maxToolRounds")
    temperature: float | None = None


class HistoryCall(_Answer):
    id: str = ""
    name: str = ""
    arguments: dict[str, Any] = Field(default_factory=dict)

    @field_validator("arguments", mode="before")
    @classmethod
    def _object(cls, value: Any) -> Any:
        if isinstance(value, str):  # some stores keep the model's raw argument string
            try:
                value = json.loads(value)
            except ValueError:
                return {}
        return value if isinstance(value, dict) else {}


class HistoryItem(_Answer):
    role: Literal["user", "assistant", "system", "tool"]
    content: str = ""
    tool_calls: list[HistoryCall] = Field(default_factory=list)
    tool_call_id: str | None = None

    @field_validator("content", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return "" if value is None else value if isinstance(value, str) else json.dumps(value)

    @field_validator("tool_calls", mode="before")
    @classmethod
    def _calls(cls, value: Any) -> Any:
        return value or []


class History(_Answer):
    history: list[HistoryItem] = Field(default_factory=list)


class ToolDefinition(_Answer):
    name: str = Field(min_length=1)
    description: str = ""
    category: str | None = None
    risk_level: str | None = None
    side_effects: bool | None = None
    durable_idempotency: bool = False
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})

    @property
    def read_only(self) -> bool:
        """As Takos's tool bridge decides it: no side effects declared and not high risk."""
        return self.side_effects is False and self.risk_level != "high" and not self.durable_idempotency


class ToolCatalog(_Answer):
    tools: list[dict[str, Any]] = Field(default_factory=list)
    mcp_failed_servers: list[Any] = Field(default_factory=list, alias="mcpFailedServers")


class ToolResult(_Answer):
    tool_call_id: str | None = None
    output: Any = None
    error: str | None = None
    outcome_uncertain: bool = False

    @field_validator("error", mode="before")
    @classmethod
    def _error(cls, value: Any) -> Any:
        if value is None or isinstance(value, str):
            return value or None
        return json.dumps(value)


class ApiKeys(_Answer):
    openai: str | None = Field(default=None, repr=False)
    openai_endpoint: str | None = Field(default=None, alias="openaiEndpoint")

    def __repr__(self) -> str:  # never the key
        return f"ApiKeys(endpoint={self.openai_endpoint!r})"

    __str__ = __repr__


class Usage(_Answer):
    input_tokens: int = Field(default=0, ge=0, alias="inputTokens")
    output_tokens: int = Field(default=0, ge=0, alias="outputTokens")
    cached_input_tokens: int = Field(default=0, ge=0, alias="cachedInputTokens")


class CheckpointLoad(_Answer):
    checkpoint: dict[str, Any] | None = None
    usage: Usage = Field(default_factory=Usage)
    fatal_error: str | None = Field(default=None, alias="fatalError")


class SkillContext(_Answer):
    locale: str | None = None
    skills: list[Any] = Field(default_factory=list)
    managed_skills: list[Any] = Field(default_factory=list, alias="managedSkills")
    custom_skills: list[Any] = Field(default_factory=list, alias="customSkills")
    available_mcp_server_names: list[str] = Field(default_factory=list, alias="availableMcpServerNames")
    available_template_ids: list[str] = Field(default_factory=list, alias="availableTemplateIds")

    @field_validator("locale", mode="before")
    @classmethod
    def _locale(cls, value: Any) -> Any:
        return value if isinstance(value, str) else None


def engine_session_id(thread_id: str) -> str:
    """Takos's engine session id: UUIDv5 in the URL namespace over the thread id (stable per thread)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, thread_id))


def parse(model: type[A], payload: dict[str, Any], endpoint: str) -> A:
    """A Worker answer as `model`; a malformed one is a ProtocolError naming the endpoint."""
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise ProtocolError(f"{endpoint}: malformed answer ({exc.error_count()} error(s))") from None
