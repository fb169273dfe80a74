"""Model runner settings: one small value object, built once and passed down.

Nothing in agent.models reads the process environment; `ModelSettings.from_env(environ)` reads a mapping it
is given (the lead's Settings can call it with os.environ), and names the variable in any error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from agent.models.errors import ModelConfigError

DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=300.0, write=30.0, pool=30.0)
"""Generation is slow: a long read timeout (between two bytes of a stream), short connect and pool ones."""

ENV_VARS: dict[str, str] = {
    "OPENAI_BASE_URL": "base URL for openai: models (https://api.openai.com/v1)",
    "ANTHROPIC_BASE_URL": "base URL for anthropic: models (https://api.anthropic.com)",
    "MODEL_TIMEOUT_S": "seconds a model stream may stay silent before it counts as failed (300)",
    "MODEL_MAX_ATTEMPTS": "tries per model request, the first included (4)",
    "MODEL_TOKENS_PER_MINUTE": "starting tokens/minute of each model family's adaptive limiter (200000)",
    "MODEL_THINKING_BUDGET_TOKENS": "extended thinking on every Anthropic request, with this budget (>= 1024; "
    "unset or 0 = off)",
}
THINKING_MIN_BUDGET = 1024
"""Anthropic refuses a smaller thinking budget."""


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
    thinking: bool = False
    """Ask for extended thinking on every request (Anthropic; the OpenAI format has no such switch)."""
    thinking_budget_tokens: int = 2048
    openai_base_url: str = "https://api.openai.com/v1"
    anthropic_base_url: str = "https://api.anthropic.com"
    anthropic_version: str = "2023-06-01"
    rate_limit: RateLimitSettings = field(default_factory=RateLimitSettings)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ModelSettings:
        """Reads the variables in ENV_VARS from `environ` (empty values count as unset)."""
        values: dict[str, Any] = {}
        get = {k: v.strip() for k, v in environ.items() if k in ENV_VARS and v.strip()}
        for name, key in (
            ("OPENAI_BASE_URL", "openai_base_url"),
            ("ANTHROPIC_BASE_URL", "anthropic_base_url"),
        ):
            if name in get:
                if not get[name].startswith(("http://", "https://")):
                    raise ModelConfigError(
                        f"{name} must be an http:// or https:// URL (got {get[name][:60]!r})"
                    )
                values[key] = get[name].rstrip("/")
        if "MODEL_TIMEOUT_S" in get:
            read = _number("MODEL_TIMEOUT_S", get["MODEL_TIMEOUT_S"], float)
            values["timeout"] = httpx.Timeout(connect=10.0, read=read, write=30.0, pool=30.0)
        if "MODEL_MAX_ATTEMPTS" in get:
            values["max_attempts"] = _number("MODEL_MAX_ATTEMPTS", get["MODEL_MAX_ATTEMPTS"], int)
        if "MODEL_TOKENS_PER_MINUTE" in get:
            tpm = _number("MODEL_TOKENS_PER_MINUTE", get["MODEL_TOKENS_PER_MINUTE"], float)
            values["rate_limit"] = RateLimitSettings(
                tokens_per_minute=tpm, floor=min(5_000, tpm), ceiling=max(tpm, 2_000_000)
            )
        if get.get("MODEL_THINKING_BUDGET_TOKENS", "0") != "0":
            budget = _number("MODEL_THINKING_BUDGET_TOKENS", get["MODEL_THINKING_BUDGET_TOKENS"], int)
            if budget < THINKING_MIN_BUDGET:
                raise ModelConfigError(
                    f"MODEL_THINKING_BUDGET_TOKENS must be at least {THINKING_MIN_BUDGET} (got {budget})"
                )
            values["thinking"], values["thinking_budget_tokens"] = True, budget
        return cls(**values)


Number = TypeVar("Number", int, float)


def _number(name: str, raw: str, kind: type[Number]) -> Number:
    try:
        value = kind(raw)
    except ValueError:
        raise ModelConfigError(f"{name} must be a positive {kind.__name__} (got {raw[:40]!r})") from None
    if value <= 0:
        raise ModelConfigError(f"{name} must be a positive {kind.__name__} (got {raw[:40]!r})")
    return value
