"""The one wire vocabulary: camelCase keys, durations as integer `…Ms`, timestamps as RFC 3339 UTC strings.

Every JSON payload the project emits or accepts is a model on `WireModel`. Python names stay snake_case;
aliases are camelCase and both spellings are accepted on input, so in-process callers can use either.
Timestamps are always `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC, milliseconds, `Z`): sortable as strings, readable by
JavaScript's `Date`, by `datetime.fromisoformat` (3.11+) and by A2A and Takos, which both take ISO 8601 UTC.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, PlainSerializer
from pydantic.alias_generators import to_camel


class WireModel(BaseModel):
    """Base of every model that crosses a process boundary: camelCase on the wire, snake_case in Python."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    def wire(self) -> dict[str, Any]:
        """The JSON-ready, camelCase form (fields left unset as None are omitted)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class StrictWireModel(WireModel):
    """Requests a client sends: an unknown field is an error, not silently dropped."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


def utc_iso(epoch: float | None = None) -> str:
    """An epoch time (now when None) in the one timestamp format."""
    when = datetime.fromtimestamp(time.time() if epoch is None else epoch, UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def to_ms(seconds: float) -> int:
    """A duration in seconds as the wire's integer milliseconds."""
    return round(seconds * 1000)


def _iso(when: datetime) -> str:
    return utc_iso((when if when.tzinfo is not None else when.replace(tzinfo=UTC)).timestamp())


Timestamp = Annotated[datetime, PlainSerializer(_iso, return_type=str, when_used="json")]
"""A datetime field that goes on the wire in the one timestamp format (naive datetimes are taken as UTC)."""
