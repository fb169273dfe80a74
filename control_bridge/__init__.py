"""The control-plane bridge: the contract, its errors, and three implementations of it.

`EmbeddedControlPlane` (SQLite, in-process), `RpcControlPlane` (JSON-RPC client over httpx) and the reference
server (`control_bridge.server`). Exports resolve lazily (PEP 562) so that importing `control_bridge.contract`
does not also pay for sqlite-utils, httpx and jsonschema.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from control_bridge import contract
    from control_bridge.admin_client import AdminClient
    from control_bridge.client import DEFAULT_TIMEOUTS, RpcControlPlane
    from control_bridge.embedded import EmbeddedControlPlane
    from control_bridge.errors import (
        BridgeError,
        Conflict,
        Forbidden,
        InvalidParams,
        LeaseLost,
        NotFound,
        ProtocolError,
        RateLimited,
        Unauthorized,
        Unavailable,
    )
    from control_bridge.forwarder import EventForwarder
    from control_bridge.protocol import ControlPlaneBase
    from control_bridge.retrying import RetryPolicy
    from control_bridge.schema import contract_json_schema

_EXPORTS: dict[str, str] = {
    "contract": "control_bridge.contract",
    "AdminClient": "control_bridge.admin_client",
    "DEFAULT_TIMEOUTS": "control_bridge.client",
    "RetryPolicy": "control_bridge.retrying",
    "RpcControlPlane": "control_bridge.client",
    "EmbeddedControlPlane": "control_bridge.embedded",
    "BridgeError": "control_bridge.errors",
    "Conflict": "control_bridge.errors",
    "Forbidden": "control_bridge.errors",
    "InvalidParams": "control_bridge.errors",
    "LeaseLost": "control_bridge.errors",
    "NotFound": "control_bridge.errors",
    "ProtocolError": "control_bridge.errors",
    "RateLimited": "control_bridge.errors",
    "Unauthorized": "control_bridge.errors",
    "Unavailable": "control_bridge.errors",
    "EventForwarder": "control_bridge.forwarder",
    "ControlPlaneBase": "control_bridge.protocol",
    "contract_json_schema": "control_bridge.schema",
}

__all__ = [
    "DEFAULT_TIMEOUTS",
    "AdminClient",
    "BridgeError",
    "Conflict",
    "ControlPlaneBase",
    "EmbeddedControlPlane",
    "EventForwarder",
    "Forbidden",
    "InvalidParams",
    "LeaseLost",
    "NotFound",
    "ProtocolError",
    "RateLimited",
    "RetryPolicy",
    "RpcControlPlane",
    "Unauthorized",
    "Unavailable",
    "contract",
    "contract_json_schema",
]


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'control_bridge' has no attribute {name!r}")
    module = importlib.import_module(module_name)
    value = module if module_name == f"control_bridge.{name}" else getattr(module, name)
    globals()[name] = value
    return value
