"""`agent bench models`: what the model runner adds on top of reading the provider's stream.

The scripted model server runs in a child process on loopback (so its work does not share our GIL). For each
wire format the same request is read two ways, interleaved, in the same run:

- raw: one httpx streaming POST with the runner's own payload and headers, lines read and counted;
- runner: the production stack EventEmittingModel(Retrying(RateLimitedModel(provider))) with a no-op emitter,
  which parses every event, builds chunks, assembles the response and emits the events.

`us_per_chunk` = (runner − raw) / chunks on long streams (median of rounds); `first_token_overhead_ms` =
runner − raw time to the first text token on short requests (medians). Reported for the OpenAI format (the
headline) and per format under `formats`.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import sys
import time
from typing import Any

import httpx

FORMATS = ("openai", "anthropic")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--chunks", type=int, default=4000, help="streamed text chunks per long request")
    parser.add_argument("--rounds", type=int, default=7, help="long requests per way and format")
    parser.add_argument("--requests", type=int, default=150, help="short requests per way and format")
    parser.add_argument("--format", choices=[*FORMATS, "both"], default="both")


def _bench_reply(recorded: Any) -> Any:
    from agent.models.fake_server import Reply

    return Reply(text="x" * int(recorded.body.get("max_tokens") or 1), chunk_size=1, output_tokens=1)


def _serve(port_queue: Any) -> None:  # runs in the child process
    from agent.models.fake_server import ModelServer

    server = ModelServer(default=_bench_reply).start()
    port_queue.put(server.port)
    while True:
        time.sleep(3600)


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _stack(fmt: str, url: str, client: httpx.AsyncClient) -> Any:
    from agent.models import EventEmittingModel, ModelSettings, RateLimitSettings, resolve_model

    unlimited = RateLimitSettings(tokens_per_minute=1e12, ceiling=1e12, floor=1e12)
    settings = ModelSettings(anthropic_base_url=url, rate_limit=unlimited)
    spec = f"openai-compatible:bench@{url}" if fmt == "openai" else "anthropic:bench"
    model = resolve_model(spec, keys={"anthropic": "bench-key"}, http_client=client, settings=settings)

    async def emit(payload: Any) -> None:
        return None

    return EventEmittingModel(model, emit)


def _request(chunks: int) -> Any:
    from agent.models import Message, ModelRequest

    return ModelRequest(messages=[Message.text("user", "stream please")], max_tokens=chunks)


async def _raw(
    client: httpx.AsyncClient, url: str, payload: dict[str, Any], headers: dict[str, str]
) -> tuple[float, float, int]:
    """(seconds to the first text token, seconds in all, data lines)."""
    start = time.perf_counter()
    first = 0.0
    lines = 0
    async with client.stream("POST", url, json=payload, headers=headers) as response:
        async for line in response.aiter_lines():
            if line.startswith("data:"):
                lines += 1
                if not first and '"x"' in line:
                    first = time.perf_counter() - start
    return first, time.perf_counter() - start, lines


async def _runner(model: Any, request: Any) -> tuple[float, float, int]:
    from agent.models import TextChunk

    start = time.perf_counter()
    first = 0.0
    chunks = 0
    async for chunk in model.stream(request):
        chunks += 1
        if not first and isinstance(chunk, TextChunk):
            first = time.perf_counter() - start
    return first, time.perf_counter() - start, chunks


async def _format(fmt: str, url: str, args: argparse.Namespace) -> dict[str, float]:
    async with httpx.AsyncClient(timeout=60) as client:
        model = _stack(fmt, url, client)
        provider = model.unwrap()
        endpoint = f"{url}/v1/chat/completions" if fmt == "openai" else f"{url}/v1/messages"
        headers = provider._headers()

        async def pair(chunks: int) -> tuple[tuple[float, float, int], tuple[float, float, int]]:
            request = _request(chunks)
            payload = provider.build_payload(request, stream=True)
            raw = await _raw(client, endpoint, payload, headers)
            ours = await _runner(model, request)
            return raw, ours

        for _ in range(3):  # warm up connections, caches and the server
            await pair(200)
        raw_long, ours_long = [], []
        for i in range(args.rounds):
            raw, ours = await pair(args.chunks)
            raw_long.append(raw[1])
            ours_long.append(ours[1])
            _say(
                f"  {fmt} long {i + 1}/{args.rounds}: raw {raw[1] * 1e3:.1f} ms, runner {ours[1] * 1e3:.1f} ms"
            )
        raw_first, ours_first, raw_total, ours_total = [], [], [], []
        for _ in range(args.requests):
            raw, ours = await pair(1)
            raw_first.append(raw[0])
            ours_first.append(ours[0])
            raw_total.append(raw[1])
            ours_total.append(ours[1])
        med = statistics.median
        result = {
            "us_per_chunk": round((med(ours_long) - med(raw_long)) / args.chunks * 1e6, 2),
            "raw_us_per_chunk": round(med(raw_long) / args.chunks * 1e6, 2),
            "first_token_overhead_ms": round((med(ours_first) - med(raw_first)) * 1e3, 3),
            "raw_first_token_ms": round(med(raw_first) * 1e3, 3),
            "us_per_request": round((med(ours_total) - med(raw_total)) * 1e6, 1),
        }
        _say(f"  {fmt}: {result}")
        return result


def run(args: argparse.Namespace) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    ports = ctx.Queue()
    child = ctx.Process(target=_serve, args=(ports,), daemon=True)
    child.start()
    try:
        url = f"http://127.0.0.1:{ports.get(timeout=60)}"
        _say(
            f"model server (child pid {child.pid}) at {url}; {args.chunks} chunks x {args.rounds} rounds, "
            f"{args.requests} short requests per format"
        )
        formats = FORMATS if args.format == "both" else (args.format,)
        per_format = {fmt: asyncio.run(_format(fmt, url, args)) for fmt in formats}
    finally:
        child.terminate()
        child.join(timeout=10)
    head = per_format[formats[0]]
    return {
        "us_per_chunk": head["us_per_chunk"],
        "first_token_overhead_ms": head["first_token_overhead_ms"],
        "us_per_request": head["us_per_request"],
        "chunks": args.chunks,
        "formats": per_format,
    }
