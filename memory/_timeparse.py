"""Time inputs people and models actually write: epoch seconds, ISO 8601, and relative forms.

Everything becomes epoch seconds (UTC); naive ISO times are read as UTC so results never depend on the
machine's time zone.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, date, datetime

TimeInput = float | int | str | datetime | date

_UNITS = {
    "second": 1,
    "minute": 60,
    "hour": 3600,
    "day": 86400,
    "week": 7 * 86400,
    "month": 30 * 86400,
    "year": 365 * 86400,
}
_UNIT = r"(second|minute|hour|day|week|month|year)s?"
_AGO = re.compile(rf"^(\d+)\s+{_UNIT}\s+ago$")
_LAST = re.compile(rf"^(?:last|past)\s+(?:(\d+)\s+)?{_UNIT}$")


def parse_time(value: TimeInput, now: float | None = None) -> float:
    """Epoch seconds for `value`; a ValueError names the accepted forms when nothing fits."""
    if isinstance(value, bool):
        raise ValueError("a time cannot be a boolean")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp()
    text = value.strip().lower()
    current = time.time() if now is None else now
    if text == "now":
        return current
    midnight = datetime.fromtimestamp(current, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if text == "today":
        return midnight.timestamp()
    if text == "yesterday":
        return midnight.timestamp() - 86400
    if match := _AGO.match(text):
        return current - int(match.group(1)) * _UNITS[match.group(2)]
    if match := _LAST.match(text):
        return current - int(match.group(1) or 1) * _UNITS[match.group(2)]
    try:
        return parse_time(datetime.fromisoformat(value.strip().replace("Z", "+00:00")))
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise ValueError(
            f"unreadable time {value[:60]!r}: use ISO 8601 (2024-05-01 or 2024-05-01T10:00:00Z), epoch seconds, "
            "'now', 'today', 'yesterday', 'N days ago' or 'last N days'"
        ) from None


def iso(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)
