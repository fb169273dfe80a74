"""A2A 1.0 over JSON-RPC at /a2a, with the public agent card at /.well-known/agent-card.json."""

from __future__ import annotations

from agent.server.a2a.routes import add_a2a_routes, close_a2a

__all__ = ["add_a2a_routes", "close_a2a"]
