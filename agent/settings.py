"""Process configuration: read once from the environment at start, validated, then passed down.

pydantic-settings does the reading and the typing: each field comes from the variable in ENV_VARS (read from
the mapping `from_env` is given, so tests never see the real environment), keys and tokens are `SecretStr`
(never printed by a repr or a log line). No other module reads the environment. A bad value stops the server
at start with a message that names the variable and says what is expected.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from agent.models.errors import ModelConfigError
from agent.models.factory import parse_model_spec
from agent.models.settings import ModelSettings
from agent.tools.agent_tool import AgentToolConfig
from control_bridge.mcp.config import McpConfig, McpConfigError, load_config

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]

# env var → (field, description, default shown in the README)
ENV_VARS: dict[str, tuple[str, str]] = {
    "HOST": ("host", "interface to bind (0.0.0.0; --dev forces 127.0.0.1)"),
    "PORT": ("port", "HTTP port (8080)"),
    "MAX_CONCURRENT_RUNS": ("max_concurrent_runs", "active runs admitted at once (5)"),
    "DATA_DIR": (
        "data_dir",
        "where the run log, checkpoints, memory and the embedded control plane live (./data)",
    ),
    "START_TOKEN": (
        "start_token",
        "bearer token for /start and /rpc (generated and printed once when unset)",
    ),
    "CONTROL_RPC_URL": ("control_rpc_url", "control plane JSON-RPC endpoint (unset: embedded control plane)"),
    "CONTROL_RPC_TOKEN": ("control_rpc_token", "bearer token for the control plane"),
    "MODEL": (
        "model",
        "provider:model, e.g. openai:gpt-4o-mini, anthropic:…, scripted:FILE (unset: local echo)",
    ),
    "OPENAI_API_KEY": ("openai_api_key", "key for openai: models (or from secrets.apiKeys)"),
    "ANTHROPIC_API_KEY": ("anthropic_api_key", "key for anthropic: models (or from secrets.apiKeys)"),
    "SCRIPTS_DIR": (
        "scripts_dir",
        "the only directory a run's scripted:FILE model may name (unset: per-run scripts refused)",
    ),
    "MIN_FREE_DISK_MB": (
        "min_free_disk_mb",
        "below this much free space under DATA_DIR, /start answers 503 and /health reports it (50)",
    ),
    "STORAGE_WAIT_S": (
        "storage_wait_s",
        "seconds a run waits for a full disk to free before it fails with storage_full (30)",
    ),
    "HTTP_HEADER_TIMEOUT_S": (
        "http_header_timeout_s",
        "a connection must send complete request headers within this (10)",
    ),
    "HTTP_BODY_TIMEOUT_S": ("http_body_timeout_s", "a request body must arrive whole within this (30)"),
    "HTTP_KEEP_ALIVE_S": ("http_keep_alive_s", "idle keep-alive connections are closed after this (5)"),
    "HTTP_MAX_CONNECTIONS": (
        "http_max_connections",
        "open connections served; beyond, 503 and then refused (1000)",
    ),
    "LOG_MAX_PER_S": (
        "log_max_per_s",
        "log lines per second of one kind before the rest are counted, not written (20)",
    ),
    "LOG_LEVEL": ("log_level", "DEBUG, INFO, WARNING or ERROR (INFO)"),
    "MEMORY_EMBEDDER": ("memory_embedder", "minilm (default, loaded lazily) or hash (fast, for tests)"),
    "SHUTDOWN_GRACE_S": ("shutdown_grace_s", "seconds SIGTERM waits for runs to checkpoint (20)"),
    "HEARTBEAT_INTERVAL_S": ("heartbeat_interval_s", "run.heartbeat period (15)"),
    "TOOL_OUTAGE_WINDOW_MS": (
        "tool_outage_window_ms",
        "a remote tool call retries an unreachable control plane this long, then fails (30000)",
    ),
    "RETENTION_DAYS": (
        "retention_days",
        "finished runs' logs and checkpoints older than this are pruned (30)",
    ),
    "RETENTION_MAX_RUNS": ("retention_max_runs", "at most this many finished runs are kept (10000)"),
    "CONTEXT_WINDOW": ("context_window", "model context window in tokens for prompt budgets (128000)"),
    "AGENT_TOOLS": ("agent_tools", "JSON list of agent-as-tool configurations (none)"),
    "OTEL_EXPORTER_OTLP_ENDPOINT": ("otel_endpoint", "OpenTelemetry OTLP endpoint (unset: no tracing)"),
    "MCP_CONFIG": ("mcp_config_path", 'MCP servers file {"mcpServers": {...}}, ${VAR} expanded (none)'),
    "MCP_MEMORY_WRITE": ("mcp_memory_write", "offer memory_write on the /mcp endpoint (false: read-only)"),
    # Running under Takos (README "Running under Takos"); the executor host injects these.
    "CONTROL_PROTOCOL": (
        "control_protocol",
        "jsonrpc or takos (jsonrpc; takos when the Takos base URL is set)",
    ),
    "TAKOS_AGENT_CONTROL_RPC_BASE_URL": ("takos_base_url", "Takos Worker base URL when /start gives none"),
    "TAKOS_AGENT_CONTROL_RPC_TOKEN": ("takos_control_token", "Takos control token when /start gives none"),
    "TAKOS_AGENT_START_TOKEN": ("takos_start_token", "bearer token the Takos host sends to /start"),
    "TAKOS_AGENT_BIND_HOST": ("takos_bind_host", "interface to bind when HOST is unset"),
    "TAKOS_AGENT_TOOL_ALLOWLIST": (
        "takos_tool_allowlist",
        "remote tools a Takos run may call: names or * (none)",
    ),
    "EXECUTOR_TIER": ("executor_tier", "Takos executor tier 1-3 when /start gives none"),
}
ENV_NAMES: dict[str, str] = {field: name for name, (field, _) in ENV_VARS.items()}
SECRET_VARS = frozenset(
    {
        "START_TOKEN",
        "CONTROL_RPC_TOKEN",
        "OPENAI_API_KEY",
        "ANTHROPIC_API_KEY",
        "TAKOS_AGENT_START_TOKEN",
        "TAKOS_AGENT_CONTROL_RPC_TOKEN",
    }
)
"""Never echoed in an error message."""
# The model runner's own variables (OPENAI_BASE_URL, ANTHROPIC_BASE_URL, MODEL_TIMEOUT_S, MODEL_MAX_ATTEMPTS,
# MODEL_TOKENS_PER_MINUTE) are read by ModelSettings.from_env from the same mapping.


class SettingsError(ValueError):
    """A configuration value is wrong; the message says which and what to set instead."""


class _Environ(PydanticBaseSettingsSource):
    """The variables of ENV_VARS from one mapping (empty values count as unset)."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        super().__init__(settings_cls)
        self._environ = environ

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        value = self._environ.get(ENV_NAMES[field_name], "").strip()
        return (value or None), field_name, False

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for field_name in ENV_NAMES:
            value, key, _ = self.get_field_value(self.settings_cls.model_fields[field_name], field_name)
            if value is not None:
                values[key] = value
        return values


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    host: str = "0.0.0.0"
    port: int = Field(default=8080, ge=0, le=65535)
    max_concurrent_runs: int = Field(default=5, ge=1, le=1000)
    data_dir: Path = Path("data")
    start_token: SecretStr | None = Field(default=None, min_length=16)
    control_rpc_url: str | None = None
    control_rpc_token: SecretStr | None = None
    model: str | None = None
    openai_api_key: SecretStr | None = None
    anthropic_api_key: SecretStr | None = None
    scripts_dir: Path | None = None
    min_free_disk_mb: float = Field(default=50.0, ge=0)
    storage_wait_s: float = Field(default=30.0, ge=0, le=86400)
    http_header_timeout_s: float = Field(default=10.0, gt=0, le=3600)
    http_body_timeout_s: float = Field(default=30.0, gt=0, le=3600)
    http_keep_alive_s: float = Field(default=5.0, ge=1, le=3600)
    http_max_connections: int = Field(default=1000, ge=1, le=1_000_000)
    log_max_per_s: float = Field(default=20.0, gt=0)
    log_level: LogLevel = "INFO"
    memory_embedder: Literal["minilm", "hash"] = "minilm"
    shutdown_grace_s: float = Field(default=20.0, gt=0, le=3600)
    heartbeat_interval_s: float = Field(default=15.0, gt=0, le=3600)
    tool_outage_window_ms: int = Field(default=30000, ge=0, le=3_600_000)
    retention_days: float = Field(default=30.0, gt=0)
    retention_max_runs: int = Field(default=10_000, ge=1)
    context_window: int = Field(default=128_000, ge=1024)
    agent_tools: list[AgentToolConfig] = Field(default_factory=list)
    otel_endpoint: str | None = None
    mcp_config_path: Path | None = None
    mcp: McpConfig | None = Field(default=None, exclude=True)
    """Loaded from `mcp_config_path` by `from_env` (with ${VAR} expanded from that environment)."""
    mcp_memory_write: bool = False
    control_protocol: Literal["jsonrpc", "takos"] | None = None
    takos_base_url: str | None = None
    takos_control_token: SecretStr | None = None
    takos_start_token: SecretStr | None = Field(default=None, min_length=1)
    takos_bind_host: str | None = None
    takos_tool_allowlist: str | None = None
    executor_tier: int | None = Field(default=None, ge=1, le=3)
    model_settings: ModelSettings = Field(default_factory=ModelSettings, exclude=True)
    dev: bool = False

    @field_validator("agent_tools", mode="before")
    @classmethod
    def _json_list(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError as exc:
                raise ValueError(f"must be a JSON list of objects ({exc})") from None
        return value

    @field_validator("control_protocol", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("control_rpc_url", "takos_base_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value or None

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only what the caller passes: `from_env` adds the environment it was given as an init source."""
        return (init_settings,)

    @classmethod
    def from_env(cls, environ: Mapping[str, str], **overrides: object) -> Settings:
        """Builds settings from environment variables; empty values count as unset; overrides win."""
        values: dict[str, object] = _Environ(cls, environ)()
        if "host" not in values and values.get("takos_bind_host"):
            values["host"] = values["takos_bind_host"]  # (Takos's container host injects this one)
        values.update({k: v for k, v in overrides.items() if v is not None})
        try:
            values["model_settings"] = ModelSettings.from_env(environ)
            if values.get("model"):
                parse_model_spec(str(values["model"]))
        except ModelConfigError as exc:
            raise SettingsError(f"invalid configuration: {exc}") from None
        try:
            settings = cls.model_validate(values)
        except ValidationError as exc:
            problems = []
            for err in exc.errors():
                field = str(err["loc"][0]) if err["loc"] else "?"
                name = ENV_NAMES.get(field, field)
                problems.append(
                    f"{name}: {err['msg']}"
                    if name in SECRET_VARS
                    else f"{name}: {err['msg']} (got {str(values.get(field))[:40]!r})"
                )
            raise SettingsError("invalid configuration: " + "; ".join(problems)) from None
        if settings.mcp_config_path is not None and settings.mcp is None:
            try:
                mcp = load_config(settings.mcp_config_path, environ)
            except McpConfigError as exc:
                raise SettingsError(f"invalid configuration: MCP_CONFIG: {exc}") from None
            settings = settings.model_copy(update={"mcp": mcp})
        return settings

    def secret(
        self, name: Literal["start_token", "control_rpc_token", "takos_start_token", "takos_control_token"]
    ) -> str | None:
        value: SecretStr | None = getattr(self, name)
        return value.get_secret_value() if value is not None else None

    @property
    def embedded_control_plane(self) -> bool:
        return self.control_rpc_url is None and not self.takos

    @property
    def takos(self) -> bool:
        """Speak Takos's agent-control contract: chosen, or implied by the Takos base URL."""
        if self.control_protocol is not None:
            return self.control_protocol == "takos"
        return self.takos_base_url is not None

    @property
    def effective_start_token(self) -> str | None:
        return self.secret("start_token") or (self.secret("takos_start_token") if self.takos else None)

    def provider_keys(self) -> dict[str, str]:
        keys = {"openai": self.openai_api_key, "anthropic": self.anthropic_api_key}
        return {k: v.get_secret_value() for k, v in keys.items() if v is not None and v.get_secret_value()}
