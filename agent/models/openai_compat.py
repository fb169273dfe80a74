"""OpenAI Chat Completions over httpx: OpenAI itself and every server that speaks it (vLLM, Ollama,
llama.cpp server, LM Studio).

Streaming tool calls arrive as argument deltas keyed by `index`; they are assembled here and handed out
whole (ToolCallChunk) once the stream finishes. Arguments that are not a JSON object become a ToolUsePart
with `raw_arguments` set and `arguments={}`, so the loop answers `invalid_call` instead of crashing.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from agent.models._http import HTTPModelClient, iter_sse, parse_arguments
from agent.models.errors import ModelUnavailable, classify_status
from agent.models.settings import DEFAULT_TIMEOUT
from agent.models.transcript import validate_transcript
from agent.models.types import (
    Chunk,
    Message,
    ModelRequest,
    ModelResponse,
    StopChunk,
    StopReason,
    TextChunk,
    TextPart,
    ThinkingChunk,
    ThinkingPart,
    ToolCallChunk,
    ToolCallDeltaChunk,
    ToolResultPart,
    ToolUsePart,
    Usage,
    UsageChunk,
)

_FINISH: dict[str, StopReason] = {
    "stop": "end_turn",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "length": "max_tokens",
    "content_filter": "refusal",
}


def to_openai_messages(messages: list[Message]) -> list[dict[str, Any]]:
    """Provider-neutral transcript → Chat Completions messages (thinking is not sent back)."""
    out: list[dict[str, Any]] = []
    for message in messages:
        results = [p for p in message.parts if isinstance(p, ToolResultPart)]
        for result in results:
            content = f"ERROR: {result.content}" if result.is_error else result.content
            out.append({"role": "tool", "tool_call_id": result.tool_use_id, "content": content})
        text = message.text_content
        if message.role == "assistant":
            entry: dict[str, Any] = {"role": "assistant", "content": text or None}
            if message.tool_uses:
                entry["tool_calls"] = [
                    {
                        "id": p.id,
                        "type": "function",
                        "function": {
                            "name": p.name,
                            "arguments": p.raw_arguments
                            if p.raw_arguments is not None
                            else json.dumps(p.arguments),
                        },
                    }
                    for p in message.tool_uses
                ]
            out.append(entry)
        elif message.role in ("system", "user") and (text or not results):
            out.append({"role": message.role, "content": text})
    return out


def _usage(raw: dict[str, Any] | None) -> Usage:
    if not raw:
        return Usage()
    details = raw.get("prompt_tokens_details") or {}
    return Usage(
        input_tokens=int(raw.get("prompt_tokens") or 0),
        output_tokens=int(raw.get("completion_tokens") or 0),
        cached_input_tokens=int(details.get("cached_tokens") or 0),
    )


def _tool_part(call_id: str | None, index: int, name: str, raw: str) -> ToolUsePart:
    arguments, bad = parse_arguments(raw)
    return ToolUsePart(id=call_id or f"call_{index}", name=name, arguments=arguments, raw_arguments=bad)


class OpenAICompatModel(HTTPModelClient):
    """`provider` is "openai" for api.openai.com and "openai-compatible" (or a name) for the others."""

    path = "/chat/completions"
    request_id_header = "x-request-id"

    def __init__(
        self,
        model: str,
        *,
        base_url: str = "https://api.openai.com/v1",
        api_key: str | None = None,
        provider: str = "openai",
        http_client: httpx.AsyncClient | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        stream_usage: bool = True,
    ) -> None:
        super().__init__(model, base_url=base_url, http_client=http_client, timeout=timeout)
        self.provider = provider
        self._api_key = api_key
        self.stream_usage = stream_usage

    def _headers(self) -> dict[str, str]:
        headers = {"content-type": "application/json", "accept": "application/json"}
        if self._api_key:
            headers["authorization"] = f"Bearer {self._api_key}"
        return headers

    def build_payload(self, request: ModelRequest, *, stream: bool) -> dict[str, Any]:
        validate_transcript(request, provider=self.provider, model=self.model, run_id=request.run_id)
        payload: dict[str, Any] = {"model": self.model, "messages": to_openai_messages(request.messages)}
        if request.tools:
            payload["tools"] = [
                {
                    "type": "function",
                    "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
                }
                for t in request.tools
            ]
            payload["tool_choice"] = request.tool_choice
        if request.temperature is not None:
            payload["temperature"] = request.temperature
        if request.max_tokens is not None:
            # OpenAI deprecated max_tokens (reasoning models reject it); compatible servers mostly only know it.
            key = "max_completion_tokens" if self.provider == "openai" else "max_tokens"
            payload[key] = request.max_tokens
        if stream:
            payload["stream"] = True
            if self.stream_usage:
                payload["stream_options"] = {"include_usage": True}
        return payload

    def parse_response(self, body: dict[str, Any], *, request_id: str | None = None) -> ModelResponse:
        choices = body.get("choices") or []
        if not choices:
            raise ModelUnavailable("response has no choices", provider=self.provider, model=self.model)
        choice = choices[0]
        raw = choice.get("message") or {}
        parts: list[Any] = []
        reasoning = raw.get("reasoning_content") or raw.get("reasoning")
        if isinstance(reasoning, str) and reasoning:
            parts.append(ThinkingPart(thinking=reasoning))
        if raw.get("content"):
            parts.append(TextPart(text=raw["content"]))
        for i, call in enumerate(raw.get("tool_calls") or []):
            fn = call.get("function") or {}
            parts.append(_tool_part(call.get("id"), i, fn.get("name") or "", fn.get("arguments") or ""))
        stop = _FINISH.get(choice.get("finish_reason") or "", "other")
        if stop != "tool_use" and any(isinstance(p, ToolUsePart) for p in parts):
            stop = "tool_use"  # some servers say "stop" even when they call tools
        return ModelResponse(
            message=Message(role="assistant", parts=parts),
            stop_reason=stop,
            usage=_usage(body.get("usage")),
            model=body.get("model") or self.model,
            provider=self.provider,
            request_id=request_id or body.get("id"),
        )

    async def stream(self, request: ModelRequest) -> AsyncIterator[Chunk]:
        payload = self.build_payload(request, stream=True)
        self.calls += 1
        text: list[str] = []
        thinking: list[str] = []
        calls: dict[int, list[Any]] = {}  # index → [id, name, [argument pieces]]
        finish: str | None = None
        usage = Usage()
        model = self.model
        done = False
        async with self._open_stream(self.path, payload) as response:
            request_id = response.headers.get(self.request_id_header)
            async for _event, data in iter_sse(response):
                if done:
                    continue  # read to the end of the body so the connection goes back to the pool
                if data == "[DONE]":
                    done = True
                    continue
                body = self.event_json(data)
                if body.get("error"):
                    raise self.redact(
                        classify_status(0, body, response.headers, provider=self.provider, model=self.model)
                    )
                model = body.get("model") or model
                request_id = request_id or body.get("id")
                if body.get("usage"):
                    usage = _usage(body["usage"])
                for choice in body.get("choices") or ():
                    delta = choice.get("delta") or {}
                    if content := delta.get("content"):
                        text.append(content)
                        yield TextChunk(text=content)
                    reasoning = delta.get("reasoning_content") or delta.get("reasoning")
                    if isinstance(reasoning, str) and reasoning:
                        thinking.append(reasoning)
                        yield ThinkingChunk(thinking=reasoning)
                    for tc in delta.get("tool_calls") or ():
                        index = tc.get("index")
                        if index is None:  # some servers omit it: a new id starts a new call
                            index = (
                                (max(calls) + 1 if calls else 0) if tc.get("id") or not calls else max(calls)
                            )
                        fn = tc.get("function") or {}
                        entry = calls.setdefault(index, [None, "", []])
                        if tc.get("id"):
                            entry[0] = tc["id"]
                        if fn.get("name"):
                            entry[1] += fn["name"]
                        piece = fn.get("arguments") or ""
                        entry[2].append(piece)
                        yield ToolCallDeltaChunk(
                            index=index, id=tc.get("id"), name=fn.get("name"), arguments_delta=piece
                        )
                    if choice.get("finish_reason"):
                        finish = choice["finish_reason"]
        if not done and finish is None:
            raise ModelUnavailable(
                "stream ended before it finished", provider=self.provider, model=self.model
            )
        parts: list[Any] = []
        if thinking:
            parts.append(ThinkingPart(thinking="".join(thinking)))
        if text:
            parts.append(TextPart(text="".join(text)))
        for index in sorted(calls):
            call_id, name, pieces = calls[index]
            part = _tool_part(call_id, index, name, "".join(pieces))
            parts.append(part)
            yield ToolCallChunk(part=part)
        stop = _FINISH.get(finish or "", "other")
        if calls:
            stop = "tool_use"
        yield UsageChunk(usage=usage)
        result = ModelResponse(
            message=Message(role="assistant", parts=parts),
            stop_reason=stop,
            usage=usage,
            model=model,
            provider=self.provider,
            request_id=request_id,
        )
        yield StopChunk(stop_reason=stop, response=result)
