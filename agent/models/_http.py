"""What the HTTP providers share: client ownership, error classification, decoding and a small SSE reader."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import httpx
from pydantic import TypeAdapter, ValidationError

from agent.models.base import BaseModelClient, response_chunks
from agent.models.errors import ModelError, ModelUnavailable, classify_status, classify_transport
from agent.models.settings import DEFAULT_TIMEOUT
from agent.models.types import Chunk, ModelRequest, ModelResponse

Shape = TypeVar("Shape")


class HTTPModelClient(BaseModelClient):
    """Base of the wire providers. Closes only an http client it created itself.

    A provider names its endpoint (`path`) and request-id header, and implements `build_payload`,
    `parse_response` (a non-streamed body) and `read_stream` (an SSE answer); the calls themselves, and
    what to do with a stream request answered by a whole JSON body, are the same for all of them.
    """

    path: str = ""
    request_id_header: str = "x-request-id"

    def __init__(
        self,
        model: str,
        *,
        base_url: str,
        http_client: httpx.AsyncClient | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._own_client = http_client is None
        self._api_key: str | None = None
        self._client = http_client or httpx.AsyncClient(timeout=timeout)
        self.calls = 0
        """Requests sent (streamed or not), for tests and the bench."""

    def __repr__(self) -> str:  # never the headers: they hold the key
        return f"{type(self).__name__}(name={self.name!r}, base_url={self.base_url!r})"

    def _headers(self) -> dict[str, str]:
        raise NotImplementedError

    def build_payload(self, request: ModelRequest, *, stream: bool) -> dict[str, Any]:
        raise NotImplementedError

    def parse_response(self, content: bytes, *, request_id: str | None = None) -> ModelResponse:
        raise NotImplementedError

    def read_stream(self, response: httpx.Response, request_id: str | None) -> AsyncIterator[Chunk]:
        raise NotImplementedError

    async def complete(self, request: ModelRequest) -> ModelResponse:
        payload = self.build_payload(request, stream=False)
        self.calls += 1
        content, headers = await self._post(self.path, payload)
        return self.parse_response(content, request_id=headers.get(self.request_id_header))

    async def stream(self, request: ModelRequest) -> AsyncIterator[Chunk]:
        payload = self.build_payload(request, stream=True)
        self.calls += 1
        async with self._open_stream(self.path, payload) as response:
            request_id = response.headers.get(self.request_id_header)
            if _is_json(response):
                # Some servers ignore `stream` (or a proxy answers for them): a whole body, not an empty
                # stream to retry. An error body is classified like any other error answer.
                whole = self.parse_response(await response.aread(), request_id=request_id)
                for chunk in response_chunks(whole):
                    yield chunk
                return
            async for chunk in self.read_stream(response, request_id):
                yield chunk

    def decode(self, data: str | bytes, shape: TypeAdapter[Shape], what: str) -> Shape:
        """Parses and checks one JSON value; anything malformed is a broken answer (ModelUnavailable)."""
        try:
            return shape.validate_json(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "top level"
            raise ModelUnavailable(
                f"{what} is not a valid {exc.title} ({first['type']} at {where})",
                provider=self.provider,
                model=self.model,
            ) from None

    def unfinished(self, response: httpx.Response) -> ModelUnavailable:
        ctype = _content_type(response)
        said = (
            "" if ctype in ("", "text/event-stream") else f" (the answer was {ctype}, not text/event-stream)"
        )
        return ModelUnavailable(
            f"stream ended before it finished{said}", provider=self.provider, model=self.model
        )

    async def _post(self, path: str, payload: dict[str, Any]) -> tuple[bytes, httpx.Headers]:
        try:
            response = await self._client.post(
                self.base_url + path, json=payload, headers=self._headers(), timeout=self.timeout
            )
        except httpx.HTTPError as exc:
            raise classify_transport(exc, provider=self.provider, model=self.model) from exc
        if response.status_code >= 400:
            raise self._http_error(response.status_code, response.content, response.headers)
        return response.content, response.headers

    @asynccontextmanager
    async def _open_stream(self, path: str, payload: dict[str, Any]) -> AsyncIterator[httpx.Response]:
        """Opens a streaming POST; raises the classified error for a non-2xx answer."""
        try:
            async with self._client.stream(
                "POST", self.base_url + path, json=payload, headers=self._headers(), timeout=self.timeout
            ) as response:
                if response.status_code >= 400:
                    raise self._http_error(response.status_code, await response.aread(), response.headers)
                yield response
        except httpx.HTTPError as exc:
            raise classify_transport(exc, provider=self.provider, model=self.model) from exc

    def _http_error(self, status: int, content: bytes, headers: Mapping[str, str]) -> ModelError:
        try:
            body: Any = json.loads(content) if content else None
        except ValueError:
            body = content[:500].decode("utf-8", "replace")
        return self.redact(classify_status(status, body, headers, provider=self.provider, model=self.model))

    def redact(self, error: ModelError) -> ModelError:
        """Some servers echo the key they were given in their error text; it must not reach logs or events."""
        if self._api_key and self._api_key in error.message:
            error.message = error.message.replace(self._api_key, "[redacted]")
            error.args = (error.message,)
        return error

    async def aclose(self) -> None:
        if self._own_client:
            await self._client.aclose()


async def iter_sse(response: httpx.Response) -> AsyncIterator[tuple[str, str]]:
    """Yields (event, data) per Server-Sent Event. An event cut off by the end of the body is dropped (spec)."""
    event = ""
    data: list[str] = []
    async for line in response.aiter_lines():
        if not line:
            if data:
                yield event or "message", "\n".join(data)
            event, data = "", []
            continue
        if line[0] == ":":
            continue
        name, _, value = line.partition(":")
        if value[:1] == " ":
            value = value[1:]
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value


def _content_type(response: httpx.Response) -> str:
    value: str = response.headers.get("content-type", "")
    return value.split(";", 1)[0].strip().lower()


def _is_json(response: httpx.Response) -> bool:
    ctype = _content_type(response)
    return ctype == "application/json" or ctype.endswith("+json")


def parse_arguments(raw: str) -> tuple[dict[str, Any], str | None]:
    """(arguments, raw_arguments): a JSON object parses; anything else is kept raw for an invalid_call."""
    if not raw.strip():
        return {}, None
    try:
        value = json.loads(raw)
    except ValueError:
        return {}, raw
    if isinstance(value, dict):
        return value, None
    return {}, raw
