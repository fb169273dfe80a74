"""Model runner settings: one small value object, built once and passed down (nothing here reads the env)."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx

DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=300.0, write=30.0, pool=30.0)
"""Generation is slow: a long read timeout (between two bytes of a stream), short connect and pool ones."""


@dataclass(frozen=True, kw_only=True)
class RateLimitSettings:
    """AIMD bounds of the per-family token bucket, in tokens per minute."""

    tokens_per_minute: float = 200_000
    floor: float = 5_000
    ceiling: float = 2_000_000
    increase: float = 5_000
    """Added to the rate after each successful request (the additive half of AIMD)."""
    expected_output_tokens: int = 512
    """Output estimate before any answer was seen; later the family's running mean is used."""


@dataclass(frozen=True, kw_only=True)
class ModelSettings:
    timeout: httpx.Timeout = field(default_factory=lambda: DEFAULT_TIMEOUT)
    max_attempts: int = 4
    """Tries per request, the first one included."""
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    max_retry_after_s: float = 120.0
    """A Retry-After longer than this is surfaced instead of waited for."""
    default_max_tokens: int = 4096
    """Anthropic requires max_tokens; used when the request does not set it."""
    thinking_budget_tokens: int = 2048
    openai_base_url: str = "https://api.openai.com/v1"
    anthropic_base_url: str = "https://api.anthropic.com"
    anthropic_version: str = "2023-06-01"
    rate_limit: RateLimitSettings = field(default_factory=RateLimitSettings)
