"""From a MODEL string to a ready client: `parse_model_spec` (fail fast at start) and `resolve_model`.

Spec forms::

    openai:gpt-4o-mini                          OpenAI, key OPENAI_API_KEY
    anthropic:claude-sonnet-4-5                 Anthropic, key ANTHROPIC_API_KEY
    openai-compatible:NAME@URL                  any Chat Completions server (vLLM, Ollama, llama.cpp, LM Studio);
                                                URL is the base (…/v1; added when the URL has no path)
    scripted:FILE                               a JSON script (agent.models.scripted)
    a2a-conformance                             the A2A TCK's scenarios, keyed by messageId (agent.models.conformance)
    local  (or unset)                           the keyless local runner, which says it is not a language model

Network providers come wrapped as Retrying(RateLimitedModel(provider)). Keys are looked up by provider name (as
`secrets.apiKeys` and Settings.provider_keys() give them) or by environment variable name; a compatible
server never receives the OpenAI key, only one given for its own NAME or for "openai-compatible".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict

from agent.models.anthropic import AnthropicModel
from agent.models.base import ModelClient
from agent.models.conformance import A2AConformanceModel
from agent.models.errors import ModelConfigError
from agent.models.openai_compat import OpenAICompatModel
from agent.models.ratelimit import RateLimitedModel, RateLimiters
from agent.models.retry import Retrying
from agent.models.scripted import LocalEchoModel, Script, ScriptedModel
from agent.models.settings import ModelSettings
from agent.redaction import redact

ProviderName = Literal["openai", "anthropic", "openai-compatible", "scripted", "local", "a2a-conformance"]
KEY_VARIABLES: dict[str, str] = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}
SPEC_FORMS = (
    "openai:MODEL, anthropic:MODEL, openai-compatible:NAME@URL, scripted:FILE, a2a-conformance or local"
)
_MODEL_NAME = re.compile(r"^[\w.:/+-]+$")
_COMPATIBLE = re.compile(r"^(?P<name>[^@\s]+)@(?P<url>https?://\S+)$")


class ModelSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: ProviderName
    model: str = ""
    base_url: str | None = None
    script: str | None = None

    def __str__(self) -> str:
        if self.provider in ("local", "a2a-conformance"):
            return self.provider
        if self.provider == "scripted":
            return f"scripted:{self.script}"
        if self.provider == "openai-compatible":
            return f"openai-compatible:{self.model}@{self.base_url}"
        return f"{self.provider}:{self.model}"


def _bad(spec: str, why: str) -> ModelConfigError:
    return ModelConfigError(f"invalid MODEL {redact(spec)!r}: {why}. Expected one of: {SPEC_FORMS}")


def parse_model_spec(spec: str | None, *, check_files: bool = True) -> ModelSpec:
    """Parses and validates a MODEL value; raises ModelConfigError saying what is wrong and what is expected."""
    text = (spec or "").strip()
    if text in ("", "local", "local:echo"):  # (local:echo is how a run records the local runner)
        return ModelSpec(provider="local", model="echo")
    if text == "a2a-conformance":
        return ModelSpec(provider="a2a-conformance", model="a2a-conformance")
    provider, sep, rest = text.partition(":")
    rest = rest.strip()
    if not sep:
        raise _bad(text, "no provider prefix")
    if provider in ("openai", "anthropic"):
        if not rest or not _MODEL_NAME.match(rest):
            raise _bad(text, f"{provider} needs a model name, e.g. {provider}:{_EXAMPLES[provider]}")
        return ModelSpec.model_validate({"provider": provider, "model": rest})
    if provider == "openai-compatible":
        match = _COMPATIBLE.match(rest)
        if not match:
            raise _bad(
                text,
                "openai-compatible needs NAME@URL, e.g. openai-compatible:llama3.1@http://localhost:11434",
            )
        url = match["url"].rstrip("/")
        parts = urlsplit(url)
        if not parts.hostname:
            raise _bad(text, f"{url!r} has no host")
        if parts.path in ("", "/"):
            url += "/v1"
        return ModelSpec(provider="openai-compatible", model=match["name"], base_url=url)
    if provider == "scripted":
        if not rest:
            raise _bad(text, "scripted needs a script file, e.g. scripted:./script.json")
        if check_files and not Path(rest).is_file():
            raise _bad(text, f"script file {rest!r} does not exist")
        return ModelSpec(provider="scripted", model=Path(rest).stem, script=rest)
    raise _bad(text, f"unknown provider {provider!r}")


_EXAMPLES = {"openai": "gpt-4o-mini", "anthropic": "claude-sonnet-4-5"}


def find_key(spec: ModelSpec, keys: Mapping[str, str]) -> str | None:
    """The key for this spec: by provider name or by env variable name. Never the OpenAI key elsewhere."""
    if spec.provider in KEY_VARIABLES:
        candidates = [spec.provider, KEY_VARIABLES[spec.provider]]
    elif spec.provider == "openai-compatible":
        candidates = [spec.model, "openai-compatible", "OPENAI_COMPATIBLE_API_KEY"]
    else:
        return None
    return next((keys[c] for c in candidates if keys.get(c)), None)


def resolve_model(
    spec: str | ModelSpec | None,
    *,
    keys: Mapping[str, str] | None = None,
    http_client: httpx.AsyncClient | None = None,
    settings: ModelSettings | None = None,
    limiters: RateLimiters | None = None,
) -> ModelClient:
    """Builds the client for `spec`.

    Args:
        spec: a MODEL value (see the module docstring), a parsed ModelSpec, or None for the local runner.
        keys: provider name or env variable name → API key (Settings.provider_keys(), secrets.apiKeys).
        http_client: a shared client (the app's); when None each provider makes and closes its own.
        settings: timeouts, retry and rate-limit bounds.
        limiters: the process's per-family limiters; pass one shared instance so runs share the budget.
    """
    parsed = spec if isinstance(spec, ModelSpec) else parse_model_spec(spec)
    settings = settings or ModelSettings()
    keys = keys or {}
    if parsed.provider == "local":
        return LocalEchoModel()
    if parsed.provider == "a2a-conformance":
        return A2AConformanceModel()
    if parsed.provider == "scripted":
        try:
            return ScriptedModel(Script.load(parsed.script or ""), model=parsed.model)
        except ValueError as exc:
            raise ModelConfigError(f"invalid MODEL {redact(str(parsed))!r}: {exc}") from None
    key = find_key(parsed, keys)
    provider: ModelClient
    if parsed.provider == "anthropic":
        if not key:
            raise _missing_key(parsed)
        provider = AnthropicModel(
            parsed.model,
            api_key=key,
            base_url=settings.anthropic_base_url,
            http_client=http_client,
            timeout=settings.timeout,
            default_max_tokens=settings.default_max_tokens,
            thinking_budget_tokens=settings.thinking_budget_tokens,
            thinking=settings.thinking,
            version=settings.anthropic_version,
        )
    else:
        if parsed.provider == "openai" and not key:
            raise _missing_key(parsed)
        provider = OpenAICompatModel(
            parsed.model,
            base_url=parsed.base_url or settings.openai_base_url,
            api_key=key,
            provider=parsed.provider,
            http_client=http_client,
            timeout=settings.timeout,
        )
    limiters = limiters or RateLimiters(settings.rate_limit)
    limited = RateLimitedModel(provider, limiters.for_model(parsed.provider, parsed.model))
    return Retrying(
        limited,
        max_attempts=settings.max_attempts,
        base_delay=settings.backoff_base_s,
        max_delay=settings.backoff_max_s,
        max_retry_after=settings.max_retry_after_s,
    )


def _missing_key(spec: ModelSpec) -> ModelConfigError:
    variable = KEY_VARIABLES[spec.provider]
    return ModelConfigError(
        f"MODEL {str(spec)!r} needs an API key: set {variable} "
        f"(or give a {spec.provider!r} key through the control plane's secrets.apiKeys)"
    )
