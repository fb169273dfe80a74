from __future__ import annotations

import agent.models


def test_public_api_is_pinned() -> None:
    assert sorted(agent.models.__all__) == sorted(
        [
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
    )
    for name in agent.models.__all__:
        assert getattr(agent.models, name) is not None


def test_exports_are_plain_imports_that_stay_light() -> None:
    """No lazy `__getattr__` (it made every export `Any` to type checkers); no server stack on import."""
    import subprocess
    import sys

    assert "__getattr__" not in vars(agent.models)
    code = "import sys, agent.models; print(sorted({'uvicorn', 'starlette', 'torch'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
