"""Model runner: provider-neutral types, the ModelClient protocol, providers and the wrappers around them.

The usual stack, built by `resolve_model`: EventEmittingModel(Retrying(RateLimitedModel(provider))) — the
event wrapper is added by the runtime, which knows the run and the turn.

Everything here is light (httpx and pydantic); the scripted model *server* (uvicorn, Starlette) lives in
`agent.models.fake_server` and is not imported from here, so the server's start path never loads it.
"""

from __future__ import annotations

from agent.models.anthropic import AnthropicModel
from agent.models.base import BaseModelClient, ModelClient
from agent.models.errors import (
    ContextLengthExceeded,
    ErrorKind,
    ModelAuthError,
    ModelConfigError,
    ModelError,
    ModelInvalidRequest,
    ModelRateLimited,
    ModelUnavailable,
    TranscriptError,
    UnknownModelError,
)
from agent.models.events import Emit, EventEmittingModel
from agent.models.factory import KEY_VARIABLES, ModelSpec, find_key, parse_model_spec, resolve_model
from agent.models.openai_compat import OpenAICompatModel
from agent.models.ratelimit import (
    AdaptiveLimiter,
    RateLimitedModel,
    RateLimiters,
    estimate_tokens,
    model_family,
)
from agent.models.retry import Retrying
from agent.models.scripted import LOCAL_NOTICE, FunctionModel, LocalEchoModel, Script, ScriptedModel
from agent.models.settings import DEFAULT_TIMEOUT, ModelSettings, RateLimitSettings
from agent.models.settings import ENV_VARS as MODEL_ENV_VARS
from agent.models.transcript import transcript_problems, validate_transcript
from agent.models.types import (
    MESSAGES_ADAPTER,
    Chunk,
    Message,
    ModelRequest,
    ModelResponse,
    Part,
    StopChunk,
    StopReason,
    TextChunk,
    TextPart,
    ThinkingChunk,
    ThinkingPart,
    ToolCallChunk,
    ToolCallDeltaChunk,
    ToolChoice,
    ToolDefinition,
    ToolResultPart,
    ToolUsePart,
    Usage,
    UsageChunk,
)
from agent.models.wrapper import WrapperModel

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
    "RateLimitedModel",
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
