"""The Takos transport: the ControlPlane protocol over Takos's agent-control HTTP endpoints.

`TakosControlPlane` (one per run and lease, built from the `/start` identity) speaks to
`{controlRpcBaseUrl}/api/internal/v1/agent-control/<endpoint>` as Takos's own agent container does; see
`../shared/takos/CONTRACT.md` for the contract and the README section "Running under Takos".
"""

from __future__ import annotations

from control_bridge.takos.errors import RunAuthorityLost, RunFatal, UncertainOutcome
from control_bridge.takos.mapping import ENDPOINT_KEY, MODEL_KEY, parse_allowlist
from control_bridge.takos.plane import TakosControlPlane
from control_bridge.takos.wire import Identity

__all__ = [
    "ENDPOINT_KEY",
    "MODEL_KEY",
    "Identity",
    "RunAuthorityLost",
    "RunFatal",
    "TakosControlPlane",
    "UncertainOutcome",
    "parse_allowlist",
]
