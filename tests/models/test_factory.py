from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.models import (
    LOCAL_NOTICE,
    AnthropicModel,
    LocalEchoModel,
    ModelConfigError,
    ModelSpec,
    OpenAICompatModel,
    RateLimitedModel,
    RateLimiters,
    Retrying,
    ScriptedModel,
    parse_model_spec,
    resolve_model,
)

from .helpers import ask
from .model_server import ModelServer, Reply

SPECS = {
    None: ModelSpec(provider="local", model="echo"),
    "": ModelSpec(provider="local", model="echo"),
    "local": ModelSpec(provider="local", model="echo"),
    "openai:gpt-4o-mini": ModelSpec(provider="openai", model="gpt-4o-mini"),
    " anthropic:claude-sonnet-4-5-20250929 ": ModelSpec(
        provider="anthropic", model="claude-sonnet-4-5-20250929"
    ),
    "openai-compatible:llama3.1:8b@http://localhost:11434": ModelSpec(
        provider="openai-compatible", model="llama3.1:8b", base_url="http://localhost:11434/v1"
    ),
    "openai-compatible:Qwen/Qwen2.5-7B@https://vllm.internal:8000/v1/": ModelSpec(
        provider="openai-compatible", model="Qwen/Qwen2.5-7B", base_url="https://vllm.internal:8000/v1"
    ),
}

BAD = {
    "gpt-4o": "no provider prefix",
    "openai:": "needs a model name",
    "anthropic:has space": "needs a model name",
    "mistral:large": "unknown provider 'mistral'",
    "openai-compatible:llama": "needs NAME@URL",
    "openai-compatible:llama@ftp://x": "needs NAME@URL",
    "scripted:": "needs a script file",
    "scripted:/no/such/script.json": "does not exist",
}


@pytest.mark.parametrize(("spec", "expected"), SPECS.items(), ids=[str(s) for s in SPECS])
def test_parse_model_spec(spec: str | None, expected: ModelSpec) -> None:
    parsed = parse_model_spec(spec)
    assert parsed == expected
    assert parse_model_spec(str(parsed)) == parsed  # canonical form round-trips


@pytest.mark.parametrize(("spec", "why"), BAD.items(), ids=list(BAD))
def test_bad_specs_fail_fast_and_say_why(spec: str, why: str) -> None:
    with pytest.raises(ModelConfigError) as caught:
        parse_model_spec(spec)
    assert why in str(caught.value) and "openai-compatible:NAME@URL" in str(caught.value)


@pytest.mark.parametrize(
    ("spec", "variable"), [("openai:gpt-4o", "OPENAI_API_KEY"), ("anthropic:claude-x", "ANTHROPIC_API_KEY")]
)
def test_missing_key_names_the_variable(spec: str, variable: str) -> None:
    with pytest.raises(ModelConfigError, match=f"set {variable}"):
        resolve_model(spec, keys={})


@pytest.mark.parametrize("key_name", ["openai", "OPENAI_API_KEY"])
async def test_keys_by_provider_or_variable_name(key_name: str) -> None:
    model = resolve_model("openai:gpt-4o-mini", keys={key_name: "sk-secret-value"})
    assert isinstance(model, Retrying) and isinstance(model.inner, RateLimitedModel)
    provider = model.unwrap()
    assert isinstance(provider, OpenAICompatModel) and provider.name == "openai:gpt-4o-mini"
    assert "sk-secret-value" not in repr(model)
    await model.aclose()


async def test_compatible_servers_never_get_the_openai_key(server: ModelServer) -> None:
    server.script([Reply(text="hi"), Reply(text="hi")])
    spec = f"openai-compatible:local-llm@{server.url}"
    model = resolve_model(spec, keys={"openai": "sk-openai-secret"})
    assert (await model.complete(ask())).message.text_content == "hi"
    assert "authorization" not in server.requests[0].headers
    assert server.requests[0].path == "/v1/chat/completions"
    keyed = resolve_model(spec, keys={"local-llm": "local-key"})
    await keyed.complete(ask())
    assert server.requests[1].headers["authorization"] == "Bearer local-key"
    await model.aclose()
    await keyed.aclose()


async def test_anthropic_resolves_with_settings_base_url(server: ModelServer) -> None:
    from agent.models import ModelSettings

    server.script([Reply(text="bonjour")])
    settings = ModelSettings(anthropic_base_url=server.anthropic_base_url, max_attempts=2)
    model = resolve_model("anthropic:claude-test", keys={"anthropic": "k"}, settings=settings)
    assert isinstance(model.unwrap(), AnthropicModel) and model.max_attempts == 2  # type: ignore[attr-defined]
    assert (await model.complete(ask())).message.text_content == "bonjour"
    await model.aclose()


def test_shared_limiters_are_used_per_family() -> None:
    limiters = RateLimiters()
    a = resolve_model("anthropic:claude-sonnet-4-5-20250929", keys={"anthropic": "k"}, limiters=limiters)
    b = resolve_model("anthropic:claude-sonnet-4-5", keys={"anthropic": "k"}, limiters=limiters)
    assert a.inner.limiter is b.inner.limiter  # type: ignore[attr-defined]


async def test_scripted_and_local(tmp_path: Path) -> None:
    script = tmp_path / "demo.json"
    script.write_text(json.dumps({"turns": [{"text": "scripted hello"}]}))
    model = resolve_model(f"scripted:{script}")
    assert isinstance(model, ScriptedModel) and model.name == "scripted:demo"
    assert (await model.complete(ask())).message.text_content == "scripted hello"
    local = resolve_model(None)
    assert isinstance(local, LocalEchoModel)
    assert LOCAL_NOTICE in (await local.complete(ask("ping"))).message.text_content
    script.write_text("{not json")
    with pytest.raises(ModelConfigError, match="not a valid script"):
        resolve_model(f"scripted:{script}")


def test_settings_from_env() -> None:
    from agent.models import ModelSettings

    settings = ModelSettings.from_env(
        {
            "ANTHROPIC_BASE_URL": "http://127.0.0.1:9/",
            "MODEL_TIMEOUT_S": "42",
            "MODEL_MAX_ATTEMPTS": "2",
            "MODEL_TOKENS_PER_MINUTE": "1000",
            "OPENAI_BASE_URL": " ",
            "UNRELATED": "x",
        }
    )
    assert settings.anthropic_base_url == "http://127.0.0.1:9"
    assert settings.openai_base_url == ModelSettings().openai_base_url
    assert settings.timeout.read == 42 and settings.max_attempts == 2
    assert settings.rate_limit.tokens_per_minute == 1000 and settings.rate_limit.floor <= 1000


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"MODEL_MAX_ATTEMPTS": "zero"}, "MODEL_MAX_ATTEMPTS"),
        ({"OPENAI_BASE_URL": "api.openai.com"}, "OPENAI_BASE_URL"),
        ({"MODEL_TIMEOUT_S": "-1"}, "MODEL_TIMEOUT_S"),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], variable: str) -> None:
    from agent.models import ModelSettings

    with pytest.raises(ModelConfigError, match=variable):
        ModelSettings.from_env(env)


async def test_every_resolved_client_satisfies_the_protocol(tmp_path: Path) -> None:
    from agent.models import EventEmittingModel, ModelClient

    async def emit(kind: str, data: dict) -> None:
        return None

    script = tmp_path / "s.json"
    script.write_text(json.dumps({"turns": [{"text": "x"}]}))
    for spec in (
        None,
        f"scripted:{script}",
        "openai:gpt-4o-mini",
        "anthropic:claude-x",
        "openai-compatible:m@http://h",
    ):
        model = resolve_model(spec, keys={"openai": "k", "anthropic": "k"})
        assert isinstance(model, ModelClient) and isinstance(EventEmittingModel(model, emit), ModelClient)
        await model.aclose()  # type: ignore[attr-defined]
