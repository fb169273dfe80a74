"""`agent run`: one run in-process on the embedded control plane, events printed as they happen."""

from __future__ import annotations

import json
import sys

from agent.events.types import TERMINAL_TYPES, Event
from agent.runtime.requests import StartRequest
from agent.server.services import Services
from agent.settings import Settings


def describe(event: Event) -> str | None:
    d = event.data
    match event.type:
        case "run.started":
            return f"▶ run {d.get('runId')} (model {d.get('model')})"
        case "phase.changed":
            return f"  · {d.get('from')} → {d.get('to')}"
        case "tool.scheduled":
            return f"  ⚙ {d.get('name')}({json.dumps(d.get('arguments'), ensure_ascii=False)})"
        case "tool.result":
            mark = "✓" if d.get("ok") else "✗"
            return f"  {mark} {d.get('name')}: {str(d.get('output'))[:200]}"
        case "await.confirmation" | "await.clarification":
            return f"  ? {d.get('prompt')} (answer with run.continue, await {d.get('id')})"
        case "run.completed":
            return f"\n{d.get('output')}"
        case "run.failed":
            return f"✗ run failed: {d.get('error')}"
        case "run.canceled":
            return f"■ run canceled: {d.get('reason')}"
    return None


async def run_locally(settings: Settings, message: str, *, json_events: bool = False) -> int:
    services = Services.build(settings.model_copy(update={"dev": True}))
    if services.memory is not None:  # one command: never wait for the embedding model (the server embeds)
        services.memory.background_model = False
    await services.start()
    done = False
    status = 1

    async def show(event: Event) -> None:
        nonlocal done, status
        if json_events:
            print(json.dumps(event.wire(), ensure_ascii=False), flush=True)
        elif (line := describe(event)) is not None:
            print(line, flush=True)
        if event.type in TERMINAL_TYPES:
            done = True
            status = 0 if event.type == "run.completed" else 1

    services.bus.subscribe(show)
    try:
        result = await services.manager.start(StartRequest(input=message, model=settings.model))
        handle = services.manager.runs[result.run_id]
        while handle.task is not None and not handle.task.done():
            await handle.task
        state = handle.state
        if state is not None and state.status == "suspended":
            print(
                "run suspended waiting for an answer; continue it on a server with run.continue",
                file=sys.stderr,
            )
            return 2
        return status if done else 1
    finally:
        await services.aclose()
