"""Model runner: provider-neutral types, the ModelClient protocol, providers and the wrappers around them.

The usual stack, built by `resolve_model`: EventEmittingModel(Retrying(RateLimited(provider))) — the event
wrapper is added by the runtime, which knows the run and the turn.

Names are imported on first use (PEP 562), so `import agent.models.types` on the server's start path does
not load every provider.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE: dict[str, str] = {
    "AdaptiveLimiter": "agent.models.ratelimit",
    "AnthropicModel": "agent.models.anthropic",
    "BaseModelClient": "agent.models.base",
    "Chunk": "agent.models.types",
    "ContextLengthExceeded": "agent.models.errors",
    "DEFAULT_TIMEOUT": "agent.models.settings",
    "Emit": "agent.models.events",
    "ErrorKind": "agent.models.errors",
    "EventEmittingModel": "agent.models.events",
    "FunctionModel": "agent.models.scripted",
    "KEY_VARIABLES": "agent.models.factory",
    "LOCAL_NOTICE": "agent.models.scripted",
    "LocalEchoModel": "agent.models.scripted",
    "MESSAGES_ADAPTER": "agent.models.types",
    "MODEL_ENV_VARS": "agent.models.settings:ENV_VARS",
    "Message": "agent.models.types",
    "ModelAuthError": "agent.models.errors",
    "ModelClient": "agent.models.base",
    "ModelConfigError": "agent.models.errors",
    "ModelError": "agent.models.errors",
    "ModelInvalidRequest": "agent.models.errors",
    "ModelRateLimited": "agent.models.errors",
    "ModelRequest": "agent.models.types",
    "ModelResponse": "agent.models.types",
    "ModelSettings": "agent.models.settings",
    "ModelSpec": "agent.models.factory",
    "ModelUnavailable": "agent.models.errors",
    "OpenAICompatModel": "agent.models.openai_compat",
    "Part": "agent.models.types",
    "RateLimitSettings": "agent.models.settings",
    "RateLimited": "agent.models.ratelimit",
    "RateLimiters": "agent.models.ratelimit",
    "Retrying": "agent.models.retry",
    "Script": "agent.models.scripted",
    "ScriptedModel": "agent.models.scripted",
    "StopChunk": "agent.models.types",
    "StopReason": "agent.models.types",
    "TextChunk": "agent.models.types",
    "TextPart": "agent.models.types",
    "ThinkingChunk": "agent.models.types",
    "ThinkingPart": "agent.models.types",
    "ToolCallChunk": "agent.models.types",
    "ToolCallDeltaChunk": "agent.models.types",
    "ToolChoice": "agent.models.types",
    "ToolDefinition": "agent.models.types",
    "ToolResultPart": "agent.models.types",
    "ToolUsePart": "agent.models.types",
    "TranscriptError": "agent.models.errors",
    "UnknownModelError": "agent.models.errors",
    "Usage": "agent.models.types",
    "UsageChunk": "agent.models.types",
    "WrapperModel": "agent.models.wrapper",
    "estimate_tokens": "agent.models.ratelimit",
    "find_key": "agent.models.factory",
    "model_family": "agent.models.ratelimit",
    "parse_model_spec": "agent.models.factory",
    "resolve_model": "agent.models.factory",
    "transcript_problems": "agent.models.transcript",
    "validate_transcript": "agent.models.transcript",
}

__all__ = [
    "DEFAULT_TIMEOUT",
    "KEY_VARIABLES",
    "LOCAL_NOTICE",
    "MESSAGES_ADAPTER",
    "MODEL_ENV_VARS",
    "AdaptiveLimiter",
    "AnthropicModel",
    "BaseModelClient",
    "Chunk",
    "ContextLengthExceeded",
    "Emit",
    "ErrorKind",
    "EventEmittingModel",
    "FunctionModel",
    "LocalEchoModel",
    "Message",
    "ModelAuthError",
    "ModelClient",
    "ModelConfigError",
    "ModelError",
    "ModelInvalidRequest",
    "ModelRateLimited",
    "ModelRequest",
    "ModelResponse",
    "ModelSettings",
    "ModelSpec",
    "ModelUnavailable",
    "OpenAICompatModel",
    "Part",
    "RateLimitSettings",
    "RateLimited",
    "RateLimiters",
    "Retrying",
    "Script",
    "ScriptedModel",
    "StopChunk",
    "StopReason",
    "TextChunk",
    "TextPart",
    "ThinkingChunk",
    "ThinkingPart",
    "ToolCallChunk",
    "ToolCallDeltaChunk",
    "ToolChoice",
    "ToolDefinition",
    "ToolResultPart",
    "ToolUsePart",
    "TranscriptError",
    "UnknownModelError",
    "Usage",
    "UsageChunk",
    "WrapperModel",
    "estimate_tokens",
    "find_key",
    "model_family",
    "parse_model_spec",
    "resolve_model",
    "transcript_problems",
    "validate_transcript",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'agent.models' has no attribute {name!r}")
    module, _, attr = module.partition(":")
    value = getattr(importlib.import_module(module), attr or name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
