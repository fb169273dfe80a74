"""Takos HTTP answers → the bridge's typed errors, as Takos's own container reads them.

409 with a lease-lost body is lease loss; 401/403/404 mean the run's authority is gone (revoked token, lost
workspace access, run deleted): both stop the run at once and nothing is finalized. 400/413 are our bug;
408/429/5xx and network errors are transient.
"""

from __future__ import annotations

from typing import Any

from control_bridge.errors import (
    BridgeError,
    Conflict,
    InvalidParams,
    LeaseLost,
    RateLimited,
    Unavailable,
)


class RunAuthorityLost(LeaseLost):
    """401/403/404 from the Worker: the token no longer speaks for this run. Stop without finalizing."""

    name = "authority_lost"


class RunFatal(BridgeError):
    """The Worker says the run must not continue (an uncertain side effect): fail it, replay nothing."""

    name = "fatal"


class UncertainOutcome(LeaseLost):
    """`tool-execute` answered `outcome_uncertain`: the loop stops at once (it treats this like lease loss:
    no further tool or model call); the transport then finalizes the run as failed with the fatal text."""

    name = "outcome_uncertain"


LEASE_LOST_MARKERS = ("lease_lost", "lease-lost")


def is_lease_lost(message: str) -> bool:
    low = message.strip().lower()
    return low.startswith(LEASE_LOST_MARKERS) or "lease lost" in low


def error_for_status(endpoint: str, status: int, payload: Any, retry_after: float | None) -> BridgeError:
    """The typed error for a non-2xx answer (`payload` is the decoded JSON body, or None)."""
    message = ""
    if isinstance(payload, dict) and isinstance(payload.get("error"), str):
        message = payload["error"][:500]
    text = f"{endpoint}: HTTP {status}" + (f" {message}" if message else "")
    if status == 409:
        return LeaseLost(text) if is_lease_lost(message) else Conflict(text)
    if status in (401, 403, 404):
        return RunAuthorityLost(text)
    if status == 429:
        return RateLimited(text, retry_after=retry_after)
    if status == 408 or status >= 500:
        return Unavailable(text)
    if status in (400, 413):
        return InvalidParams(text)
    return BridgeError(text)
