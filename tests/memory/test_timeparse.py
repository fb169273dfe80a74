from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from memory import parse_time

NOW = datetime(2024, 6, 15, 12, 0, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", NOW),
        ("today", datetime(2024, 6, 15, tzinfo=UTC).timestamp()),
        ("yesterday", datetime(2024, 6, 14, tzinfo=UTC).timestamp()),
        ("last 7 days", NOW - 7 * 86400),
        ("past 2 weeks", NOW - 14 * 86400),
        ("last week", NOW - 7 * 86400),
        ("3 hours ago", NOW - 3 * 3600),
        ("2024-01-02", datetime(2024, 1, 2, tzinfo=UTC).timestamp()),
        ("2024-01-02T03:04:05Z", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC).timestamp()),
        ("2024-01-02T03:04:05+02:00", datetime(2024, 1, 2, 1, 4, 5, tzinfo=UTC).timestamp()),
        ("1700000000", 1_700_000_000.0),
    ],
)
def test_forms(text: str, expected: float) -> None:
    assert parse_time(text, now=NOW) == expected


def test_non_strings() -> None:
    assert parse_time(5) == 5.0
    assert parse_time(date(2024, 1, 1)) == datetime(2024, 1, 1, tzinfo=UTC).timestamp()
    with pytest.raises(ValueError):
        parse_time(True)


@pytest.mark.parametrize("text", ["soon", "last fortnight", "", "2024-13-45"])
def test_unreadable_times_say_what_works(text: str) -> None:
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_time(text, now=NOW)
