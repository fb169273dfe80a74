"""The published event catalog: one envelope per event type, one discriminated union on `type`, one adapter.

What a client reads from SSE, `run.events` and the control plane's `run.events.append` is always an envelope
`{runId, sequence, type, time, data}`; `data` is the type's model in `payloads.py`. `agent contract --json`
prints `event_schemas()`, and tests validate every stored event with `EVENT_ADAPTER`.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import Field, TypeAdapter, create_model

from agent.events.payloads import EVENT_MODELS, EventData
from control_bridge.wire import WireModel

STREAM_END = "stream.end"


class StreamEnd(EventData):
    """The last SSE frame of a finished run's stream (never stored: it closes the stream)."""

    TYPE: ClassVar[str] = STREAM_END
    last_sequence: int


class EventEnvelope(WireModel):
    run_id: str
    sequence: int = Field(ge=0)
    type: str
    time: str
    """RFC 3339 UTC with milliseconds (`2026-12-01T22:00:00.123Z`): when the event was logged."""
    data: dict[str, Any]


def _envelope(model: type[EventData]) -> type[EventEnvelope]:
    fields: Any = {"type": (Literal[model.TYPE], ...), "data": (model, ...)}
    name = f"{model.__name__}Event"
    built: type[EventEnvelope] = create_model(name, __base__=EventEnvelope, **fields)
    return built


ALL_MODELS: tuple[type[EventData], ...] = (*EVENT_MODELS, StreamEnd)
ENVELOPES: tuple[type[EventEnvelope], ...] = tuple(_envelope(m) for m in ALL_MODELS)
AnyEvent = Annotated[Union[ENVELOPES], Field(discriminator="type")]  # type: ignore[valid-type]  # noqa: UP007
EVENT_ADAPTER: TypeAdapter[Any] = TypeAdapter(AnyEvent)
EVENT_TYPES: tuple[str, ...] = tuple(m.TYPE for m in ALL_MODELS)


def event_schemas() -> dict[str, Any]:
    """The JSON Schema of the union (`$defs` holds one envelope per type) and the type → data-model map."""
    return {
        "union": EVENT_ADAPTER.json_schema(by_alias=True),
        "types": {m.TYPE: m.model_json_schema(by_alias=True) for m in ALL_MODELS},
    }
