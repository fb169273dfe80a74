"""Remote tools registered with an HTTP endpoint: the control plane POSTs the arguments there."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from control_bridge import contract as c
from control_bridge.admin_client import AdminClient
from control_bridge.client import RpcControlPlane
from control_bridge.embedded import EmbeddedControlPlane
from control_bridge.errors import InvalidParams

from .conftest import TOKEN

TOOL = c.RemoteTool(
    name="echo",
    parameters={"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
)


def _exec(run_id: str, key: str, text: str = "hi") -> c.ToolsExecuteParams:
    call = c.ToolCall(id=f"c-{key}", name="echo", arguments={"text": text})
    return c.ToolsExecuteParams(run_id=run_id, lease_version=1, tool_call=call, idempotency_key=key)


async def _plane_with(tmp_path: Path, handler: httpx.MockTransport) -> tuple[EmbeddedControlPlane, str]:
    plane = EmbeddedControlPlane(tmp_path / "cp.db", http_client=httpx.AsyncClient(transport=handler))
    await plane.register_tool(TOOL, "http://tools.local/echo")
    run = await plane.create_run({"input": "x"})
    return plane, run.run_id


async def test_http_tool_runs_once_per_key_even_when_retried_concurrently(tmp_path: Path) -> None:
    seen: list[httpx.Request] = []
    gate = asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        await gate.wait()
        return httpx.Response(200, json={"echo": json.loads(request.content)["text"]})

    plane, run_id = await _plane_with(tmp_path, httpx.MockTransport(handler))
    first = asyncio.create_task(plane.tools_execute(_exec(run_id, "k1")))
    await asyncio.sleep(0.05)
    retry = asyncio.create_task(plane.tools_execute(_exec(run_id, "k1")))
    await asyncio.sleep(0.05)
    gate.set()
    a, b = await asyncio.gather(first, retry)
    assert a.output == b.output == {"echo": "hi"} and (a.replayed, b.replayed) == (False, True)
    later = await plane.tools_execute(_exec(run_id, "k1"))
    assert later.replayed and later.output == {"echo": "hi"}
    assert len(seen) == 1 and await plane.tool_execution_count("echo") == 1
    assert seen[0].headers["idempotency-key"] == "k1" and seen[0].headers["x-run-id"] == run_id
    await plane.aclose()


@pytest.mark.parametrize(
    ("response", "kind", "uncertain"),
    [
        (httpx.Response(500), "unavailable", True),
        (httpx.Response(429), "rate_limited", False),
        (httpx.Response(422, text="no such branch"), "domain_rejection", False),
        (httpx.Response(200, text="not json"), "malformed_result", False),
    ],
)
async def test_http_tool_failures_are_typed(
    tmp_path: Path, response: httpx.Response, kind: str, uncertain: bool
) -> None:
    plane, run_id = await _plane_with(tmp_path, httpx.MockTransport(lambda _r: response))
    result = await plane.tools_execute(_exec(run_id, "k"))
    assert result.error is not None and result.error.kind == kind and result.outcome_uncertain is uncertain
    await plane.aclose()


async def test_http_tool_timeout_is_uncertain(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    plane, run_id = await _plane_with(tmp_path, httpx.MockTransport(handler))
    result = await plane.tools_execute(_exec(run_id, "k"))
    assert result.error is not None and result.error.kind == "timeout" and result.outcome_uncertain
    await plane.aclose()


async def test_invalid_tool_schema_is_refused(tmp_path: Path) -> None:
    plane = EmbeddedControlPlane(tmp_path / "cp.db")
    with pytest.raises(InvalidParams):
        await plane.register_tool(c.RemoteTool(name="bad", parameters={"type": "no-such-type"}))
    await plane.aclose()


async def test_http_tool_through_reference_server(server_url: str) -> None:
    """End to end on real sockets: container → reference server → the tool's own HTTP endpoint."""
    from ._server import serve_in_thread

    calls: list[dict] = []

    async def echo(request: Request) -> JSONResponse:
        calls.append(await request.json())
        return JSONResponse({"echo": calls[-1]["text"], "n": len(calls)})

    with serve_in_thread(Starlette(routes=[Route("/echo", echo, methods=["POST"])])) as tool_base:
        rpc = RpcControlPlane(server_url, TOKEN)
        admin = AdminClient(rpc)
        await admin.register_tool(TOOL, f"{tool_base}/echo")
        run = await admin.create_run({"input": "x"})
        first = await rpc.tools_execute(_exec(run.run_id, "k"))
        again = await rpc.tools_execute(_exec(run.run_id, "k"))
        await rpc.aclose()
    assert first.output == again.output == {"echo": "hi", "n": 1} and again.replayed
    assert calls == [{"text": "hi"}]
