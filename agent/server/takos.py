"""Running under Takos: `/start` as Takos's executor host sends it, the per-run transport and the model.

Kept apart from the app and the services so the Takos specifics are one file on the agent side; the
transport itself is `control_bridge.takos`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx

from agent.models.base import ModelClient
from agent.models.errors import ModelConfigError
from agent.models.openai_compat import OpenAICompatModel
from agent.models.ratelimit import RateLimitedModel, RateLimiters
from agent.models.retry import Retrying
from agent.models.settings import ModelSettings
from agent.models.types import Chunk, ModelRequest, StopChunk, TextChunk, ToolCallChunk
from agent.runtime.requests import RunError, StartRequest, StartResult
from agent.settings import Settings
from control_bridge.protocol import ControlPlaneBase
from control_bridge.takos import ENDPOINT_KEY, MODEL_KEY, Identity, TakosControlPlane, parse_allowlist

MODEL_PREFIX = "takos:"
"""A run's model spec under Takos: the bare model name from `/start`, served at the `api-keys` endpoint."""
RUNTIME_PROTOCOL_VERSION = 2
MODEL_ATTEMPTS = 3
LOCAL_SMOKE = "local-smoke"


class TakosWiring:
    """What the server does differently with CONTROL_PROTOCOL=takos."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.allowlist = parse_allowlist(settings.takos_tool_allowlist)

    def prepare(self, req: StartRequest) -> StartRequest:
        """Fills what Takos leaves to the environment; refuses what no Takos run can be."""
        s = self.settings
        base = req.control_rpc_base_url or s.takos_base_url
        token = req.control_rpc_token or s.secret("takos_control_token")
        if not req.run_id:
            raise RunError("invalid", "runId is required")
        if not base or not token:
            raise RunError(
                "invalid", "controlRpcBaseUrl and controlRpcToken are required (or set TAKOS_AGENT_*)"
            )
        if req.input is not None:
            raise RunError("invalid", "input is not accepted under Takos: the run's message is in its thread")
        service = req.service_id or req.worker_id
        if not service:
            raise RunError("invalid", "serviceId or workerId is required")
        model = (req.model or "").strip()
        if not model or model == LOCAL_SMOKE:
            if not s.model:
                raise RunError("invalid", "run started without a concrete model")
            spec = s.model
        else:
            spec = MODEL_PREFIX + model
        return req.model_copy(
            update={
                "control_rpc_base_url": base,
                "control_rpc_token": token,
                "service_id": service,
                "worker_id": req.worker_id or service,
                "executor_tier": req.executor_tier or s.executor_tier,
                "lease_version": req.lease_version or 0,
                "model": spec,
            }
        )

    def control_factory(self, url: str, token: str | None, start: StartRequest | None) -> ControlPlaneBase:
        """A fresh transport per /start: Takos mints a token per run and lease."""
        if start is None or start.run_id is None or not token:
            raise RunError("invalid", "the Takos transport needs the /start identity")
        model = start.model or ""
        identity = Identity(
            run_id=start.run_id,
            service_id=start.service_id or start.worker_id or "",
            worker_id=start.worker_id or start.service_id or "",
            lease_version=start.lease_version or 0,
            base_url=url,
            token=token,
            model=model.removeprefix(MODEL_PREFIX) if model.startswith(MODEL_PREFIX) else model,
            executor_tier=start.executor_tier,
            executor_container_id=start.executor_container_id,
            checkpoint_protocol_version=2,
        )
        return TakosControlPlane(identity, allowlist=self.allowlist)

    @staticmethod
    def answer(result: StartResult, req: StartRequest) -> dict[str, Any]:
        body = result.model_dump(by_alias=True, exclude_none=True)
        body["runtimeProtocolVersion"] = RUNTIME_PROTOCOL_VERSION
        if not result.duplicate:
            body["serviceId"] = req.service_id
            body["replaced"] = bool(result.replaced)
        return body


class TakosChatModel(OpenAICompatModel):
    """Chat Completions at the full URL `api-keys` gives, one non-streamed call per turn (as Takos's
    container calls it: its endpoint need not stream)."""

    def __init__(self, model: str, *, endpoint: str, api_key: str, **kwargs: Any) -> None:
        super().__init__(model, base_url=endpoint, api_key=api_key, provider="openai-compatible", **kwargs)
        self.path = ""

    async def stream(self, request: ModelRequest) -> AsyncIterator[Chunk]:
        response = await OpenAICompatModel.complete(self, request)
        if response.message.text_content:
            yield TextChunk(text=response.message.text_content)
        for part in response.message.tool_uses:
            yield ToolCallChunk(part=part)
        yield StopChunk(stop_reason=response.stop_reason, response=response)


def takos_model(
    spec: str,
    keys: dict[str, str],
    *,
    http_client: httpx.AsyncClient,
    settings: ModelSettings,
    limiters: RateLimiters,
) -> ModelClient:
    name = spec.removeprefix(MODEL_PREFIX)
    key, endpoint = keys.get(MODEL_KEY), keys.get(ENDPOINT_KEY)
    if not key or not endpoint or not endpoint.startswith(("http://", "https://")):
        raise ModelConfigError(
            "the Worker's api-keys gave no usable OpenAI-compatible credential and endpoint"
        )
    inner = TakosChatModel(
        name, endpoint=endpoint, api_key=key, http_client=http_client, timeout=settings.timeout
    )
    limited = RateLimitedModel(inner, limiters.for_model("openai-compatible", name))
    return Retrying(
        limited,
        max_attempts=min(MODEL_ATTEMPTS, settings.max_attempts),
        base_delay=settings.backoff_base_s,
        max_delay=settings.backoff_max_s,
        max_retry_after=settings.max_retry_after_s,
    )
