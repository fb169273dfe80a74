"""OpenAI Chat Completions over httpx: OpenAI itself and every server that speaks it (vLLM, Ollama,
llama.cpp server, LM Studio).

Streaming tool calls arrive as argument deltas keyed by `index`; they are assembled here and handed out
whole (ToolCallChunk) once the stream finishes. Arguments that are not a JSON object become a ToolUsePart
with `raw_arguments` set and `arguments={}`, so the loop answers `invalid_call` instead of crashing.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from agent.models._http import HTTPModelClient, iter_sse, parse_arguments
from agent.models._openai_shapes import (
    ChatBody,
    ChatMessage,
    FunctionCall,
    chat_body,
    message_text,
    message_thinking,
    usage_of,
)
from agent.models.errors import ModelError, ModelUnavailable, classify_status
from agent.models.settings import DEFAULT_TIMEOUT
from agent.models.transcript import validate_transcript
from agent.models.types import (
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


def _tool_part(call_id: str | None, index: int, name: str, raw: str | dict[str, Any]) -> ToolUsePart:
    arguments, bad = (raw, None) if isinstance(raw, dict) else parse_arguments(raw)
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

    def _in_band_error(self, body: ChatBody, headers: Mapping[str, str]) -> ModelError:
        error = classify_status(
            0, {"error": body.get("error")}, headers, provider=self.provider, model=self.model
        )
        return self.redact(error)

    def parse_response(self, content: bytes, *, request_id: str | None = None) -> ModelResponse:
        body = self.decode(content, chat_body(), "response body")
        if body.get("error"):
            raise self._in_band_error(body, {})
        choices = body.get("choices")
        if not choices:
            raise ModelUnavailable("response has no choices", provider=self.provider, model=self.model)
        choice = choices[0]
        raw: ChatMessage = choice.get("message") or {}
        parts: list[Part] = []
        if thinking := message_thinking(raw):
            parts.append(ThinkingPart(thinking=thinking))
        said, refusal = message_text(raw), raw.get("refusal")
        if text := said or refusal:
            parts.append(TextPart(text=text))
        for i, call in enumerate(raw.get("tool_calls") or ()):
            fn: FunctionCall = call.get("function") or {}
            parts.append(_tool_part(call.get("id"), i, fn.get("name") or "", fn.get("arguments") or ""))
        stop = _FINISH.get(choice.get("finish_reason") or "", "other")
        if refusal and not said:
            stop = "refusal"
        if stop != "tool_use" and any(isinstance(p, ToolUsePart) for p in parts):
            stop = "tool_use"  # some servers say "stop" even when they call tools
        return ModelResponse(
            message=Message(role="assistant", parts=parts),
            stop_reason=stop,
            usage=usage_of(body.get("usage")) or Usage(),
            model=body.get("model") or self.model,
            provider=self.provider,
            request_id=request_id or body.get("id"),
        )

    async def read_stream(self, response: httpx.Response, request_id: str | None) -> AsyncIterator[Chunk]:
        text: list[str] = []
        thinking: list[str] = []
        calls: dict[int, _Call] = {}
        finish: str | None = None
        refused = False
        usage = Usage()
        model = self.model
        done = False
        async for _event, data in iter_sse(response):
            if done:
                continue  # read to the end of the body so the connection goes back to the pool
            if data == "[DONE]":
                done = True
                continue
            body = self.decode(data, chat_body(), "stream event")
            if body.get("error"):
                raise self._in_band_error(body, response.headers)
            model = body.get("model") or model
            request_id = request_id or body.get("id")
            if (reported := usage_of(body.get("usage"))) is not None:
                usage = reported
            for choice in body.get("choices") or ():
                if delta := choice.get("delta"):
                    said, refusal = message_text(delta), delta.get("refusal")
                    if content := said or refusal:
                        refused = refused or not said
                        text.append(content)
                        yield TextChunk(text=content)
                    if reasoning := message_thinking(delta):
                        thinking.append(reasoning)
                        yield ThinkingChunk(thinking=reasoning)
                    for tc in delta.get("tool_calls") or ():
                        call_id = tc.get("id")
                        index = tc.get("index")
                        if index is None:  # some servers omit it: a new id starts a new call
                            index = (max(calls) + 1 if calls else 0) if call_id or not calls else max(calls)
                        fn: FunctionCall = tc.get("function") or {}
                        entry = calls.setdefault(index, _Call())
                        entry.id = call_id or entry.id
                        name = fn.get("name")
                        entry.name += name or ""
                        piece = fn.get("arguments") or ""
                        if isinstance(piece, dict):
                            entry.whole = piece
                            piece = ""
                        entry.pieces.append(piece)
                        yield ToolCallDeltaChunk(index=index, id=call_id, name=name, arguments_delta=piece)
                if finished := choice.get("finish_reason"):
                    finish = finished
        if not done and finish is None:
            raise self.unfinished(response)
        parts: list[Part] = []
        if thinking:
            parts.append(ThinkingPart(thinking="".join(thinking)))
        if text:
            parts.append(TextPart(text="".join(text)))
        for index in sorted(calls):
            call = calls[index]
            part = _tool_part(call.id, index, call.name, call.whole or "".join(call.pieces))
            parts.append(part)
            yield ToolCallChunk(part=part)
        stop = _FINISH.get(finish or "", "other")
        if refused:
            stop = "refusal"
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


@dataclass
class _Call:
    """A tool call being assembled from its streamed pieces."""

    id: str | None = None
    name: str = ""
    pieces: list[str] = field(default_factory=list)
    whole: dict[str, Any] | None = None
