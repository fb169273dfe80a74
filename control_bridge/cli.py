"""`agent control-plane serve`: the reference control plane from the main CLI (argparse only, imports lazily
so that building the CLI parser stays fast)."""

from __future__ import annotations

import argparse
from typing import Any

DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024
"""A full run.events.append batch (10,000 events) fits comfortably; anything bigger is refused with 413."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The serve flags, shared by `python -m control_bridge.server` and `agent control-plane serve`."""
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8081, help="port (default 8081)")
    parser.add_argument("--db", default="control-plane.db", help="SQLite file (default control-plane.db)")
    parser.add_argument(
        "--token",
        default=None,
        help="bearer token callers must present (default: $CONTROL_RPC_TOKEN; unset = no auth)",
    )
    parser.add_argument("--max-body-bytes", type=int, default=DEFAULT_MAX_BODY_BYTES)
    parser.add_argument("--log-level", default="info")
    parser.add_argument(
        "--mcp-config",
        default=None,
        help='MCP servers as {"mcpServers": {...}} (Claude Desktop format; default: $MCP_CONFIG; unset = none)',
    )


def _serve(args: argparse.Namespace) -> int:
    from control_bridge.server import serve

    return serve(args)


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Adds `control-plane serve` to an argparse subparsers object; the leaf sets `fn(args) -> int`."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "control-plane", help="the reference control plane (embedded SQLite over HTTP JSON-RPC)"
    )
    actions = parser.add_subparsers(dest="control_plane_command", required=True)
    serve_parser = actions.add_parser("serve", help="serve the control plane over HTTP JSON-RPC")
    add_arguments(serve_parser)
    serve_parser.set_defaults(fn=_serve)
    return parser
