"""The MCP configuration file (Claude Desktop format, ${VAR} expansion) and the catalog naming rule."""

from __future__ import annotations

import json
from pathlib import Path

import mcp_types as mt
import pytest

from agent.settings import Settings, SettingsError
from control_bridge.mcp import McpConfigError, exposed_name, load_config, parse_config
from control_bridge.mcp.mapping import remote_tool


def test_claude_desktop_format_with_env_expansion(tmp_path: Path) -> None:
    path = tmp_path / "mcp.json"
    path.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "gh": {
                        "command": "npx",
                        "args": ["-y", "server-github"],
                        "env": {"TOKEN": "${GH_TOKEN}"},
                    },
                    "remote": {
                        "url": "https://example.test/mcp",
                        "headers": {"Authorization": "Bearer ${API_KEY}"},
                    },
                    "tz": {"command": "uvx", "args": ["mcp-server-time", "--local-timezone", "${TZ:-UTC}"]},
                }
            }
        )
    )
    config = load_config(path, {"GH_TOKEN": "ghp_secret", "API_KEY": "k-123"})
    gh, remote, tz = config.servers
    assert gh.transport == "stdio" and gh.stdio is not None and gh.stdio.env == {"TOKEN": "ghp_secret"}
    assert remote.transport == "http" and remote.http is not None
    assert remote.http.headers == {"Authorization": "Bearer k-123"}
    assert tz.stdio is not None and tz.stdio.args[-1] == "UTC"  # the default after :-


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"mcpServers": {"a": {"command": "x", "env": {"K": "${MISSING}"}}}}, "MISSING is not set"),
        ({"mcpServers": {"a": {}}}, "give either 'command'"),
        ({"mcpServers": {"a": {"command": "x", "url": "http://h/mcp"}}}, "give either 'command'"),
        ({"mcpServers": {"a": {"url": "ftp://h"}}}, "mcpServers.a"),
        ({"mcpServers": {"bad name!": {"command": "x"}}}, "mcpServers.bad name!"),
        ({"mcpServers": []}, "must be an object"),
    ],
)
def test_bad_configs_are_typed_errors_naming_the_server(document: object, message: str) -> None:
    with pytest.raises(McpConfigError, match=message.replace("(", r"\(")):
        parse_config(document, {})


def test_settings_load_mcp_config_and_name_the_variable(tmp_path: Path) -> None:
    path = tmp_path / "mcp.json"
    path.write_text('{"mcpServers": {"t": {"command": "x", "args": ["${ARG}"]}}}')
    settings = Settings.from_env({"MCP_CONFIG": str(path), "ARG": "value"})
    assert settings.mcp is not None and settings.mcp.servers[0].stdio is not None
    assert settings.mcp.servers[0].stdio.args == ["value"]
    with pytest.raises(SettingsError, match=r"MCP_CONFIG: .*ARG is not set"):
        Settings.from_env({"MCP_CONFIG": str(path)})
    with pytest.raises(SettingsError, match="MCP_CONFIG: cannot read"):
        Settings.from_env({"MCP_CONFIG": str(tmp_path / "nope.json")})


def test_naming_rule() -> None:
    assert exposed_name("time", "get_current_time") == "mcp__time__get_current_time"
    odd = exposed_name("srv", "weird.name/with spaces")
    assert odd.startswith("mcp__srv__weird_name_with_spaces_") and len(odd) <= 64
    long_a = exposed_name("srv", "x" * 80 + "a")
    long_b = exposed_name("srv", "x" * 80 + "b")
    assert len(long_a) == 64 and long_a != long_b  # truncated, and a hash keeps them apart


@pytest.mark.parametrize(
    ("hints", "side_effects", "confirm"),
    [
        ({"readOnlyHint": True}, False, False),
        ({"readOnlyHint": False, "destructiveHint": False}, True, False),
        ({"destructiveHint": True}, True, True),
        (None, True, True),  # no annotations: the spec's defaults (not read-only, destructive)
    ],
)
def test_annotations_map_onto_side_effects_and_confirmation(
    hints: dict[str, bool] | None, side_effects: bool, confirm: bool
) -> None:
    tool = mt.Tool.model_validate({"name": "t", "inputSchema": {"type": "object"}, "annotations": hints})
    spec = remote_tool("s", tool, timeout_ms=1000)
    assert spec.side_effects is side_effects and spec.requires_confirmation is confirm
    assert (spec.risk_level == "high") is confirm
