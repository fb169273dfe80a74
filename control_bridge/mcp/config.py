"""MCP server configuration in the format users already have (Claude Desktop, Cursor, VS Code):

    {"mcpServers": {"NAME": {"command", "args", "env", "cwd"} | {"url", "headers"}}}

`${VAR}` (and `${VAR:-default}`) in any string is expanded from the environment when the file is loaded, so
secrets stay out of the file; a variable that is unset and has no default is an error naming it (a server
started with an empty token would fail later and less clearly).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

SERVER_NAME = r"^[A-Za-z0-9_-]{1,32}$"
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class McpConfigError(ValueError):
    """The MCP configuration is wrong; the message names the server or variable."""


class StdioServerConfig(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    command: str = Field(min_length=1)
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None


class HttpServerConfig(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    url: str = Field(pattern=r"^https?://")
    headers: dict[str, str] = Field(default_factory=dict)


class ServerOptions(BaseModel):
    """Our per-server knobs (optional keys beside the standard ones; other clients ignore them)."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    timeout_ms: int = Field(default=60_000, ge=1, alias="timeoutMs")
    """Per call, unless the tool's own limit is lower."""
    startup_timeout_ms: int = Field(default=30_000, ge=1, alias="startupTimeoutMs")
    """Connecting and the first tools/list; a server slower than this is reported as failed."""
    disabled: bool = False


class ServerConfig(BaseModel):
    """One entry of `mcpServers`: exactly one of stdio (`command`) or streamable HTTP (`url`)."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(pattern=SERVER_NAME)
    stdio: StdioServerConfig | None = None
    http: HttpServerConfig | None = None
    options: ServerOptions = Field(default_factory=ServerOptions)

    @model_validator(mode="after")
    def _one_transport(self) -> ServerConfig:
        if (self.stdio is None) == (self.http is None):
            raise ValueError("give either 'command' (stdio) or 'url' (streamable HTTP)")
        return self

    @property
    def transport(self) -> str:
        return "stdio" if self.stdio is not None else "http"


class McpConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    servers: list[ServerConfig] = Field(default_factory=list)

    def enabled(self) -> list[ServerConfig]:
        return [s for s in self.servers if not s.options.disabled]


def expand(value: Any, environ: Mapping[str, str], where: str) -> Any:
    """Expands ${VAR} / ${VAR:-default} in every string of a JSON value."""
    if isinstance(value, str):

        def sub(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in environ:
                return environ[name]
            if default is not None:
                return default
            raise McpConfigError(f"{where}: environment variable {name} is not set")

        return _VAR.sub(sub, value)
    if isinstance(value, list):
        return [expand(v, environ, where) for v in value]
    if isinstance(value, dict):
        return {k: expand(v, environ, where) for k, v in value.items()}
    return value


def parse_config(document: Any, environ: Mapping[str, str]) -> McpConfig:
    """Validates a parsed JSON document (`{"mcpServers": {...}}`) into an McpConfig."""
    if not isinstance(document, dict) or not isinstance(document.get("mcpServers", {}), dict):
        raise McpConfigError('the MCP configuration must be an object {"mcpServers": {NAME: {...}}}')
    servers: list[ServerConfig] = []
    for name, raw in document.get("mcpServers", {}).items():
        if not isinstance(raw, dict):
            raise McpConfigError(f"mcpServers.{name}: must be an object")
        entry = expand(raw, environ, f"mcpServers.{name}")
        try:
            servers.append(
                ServerConfig(
                    name=name,
                    stdio=StdioServerConfig.model_validate(entry) if "command" in entry else None,
                    http=HttpServerConfig.model_validate(entry) if "url" in entry else None,
                    options=ServerOptions.model_validate(entry),
                )
            )
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = ".".join(str(x) for x in first["loc"])
            raise McpConfigError(f"mcpServers.{name}: {loc + ': ' if loc else ''}{first['msg']}") from None
    return McpConfig(servers=servers)


def load_config(path: str | Path, environ: Mapping[str, str]) -> McpConfig:
    """Reads and validates the file that MCP_CONFIG / --mcp-config names."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise McpConfigError(f"cannot read MCP config {str(path)!r}: {exc.strerror}") from None
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise McpConfigError(f"MCP config {str(path)!r} is not JSON: {exc}") from None
    return parse_config(document, environ)
