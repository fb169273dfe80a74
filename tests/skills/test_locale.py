from __future__ import annotations

import pytest

from skills import parse_accept_language, resolve_locale, resolve_locale_with_reason


@pytest.mark.parametrize(
    ("explicit", "preference", "accept", "text", "expected", "why"),
    [
        ("ja", "en", "en-US", "hello", "ja", "explicit"),
        ("ja-JP", None, None, None, "ja", "explicit"),
        ("fr", "ja", None, "hello", "ja", "preference"),  # unsupported explicit request falls through
        (None, "EN_gb", "ja", "こんにちは", "en", "preference"),
        (None, None, "ja-JP,ja;q=0.9,en;q=0.8", "hello", "ja", "accept_language"),
        (None, None, "fr-FR, en;q=0.5, ja;q=0.7", "hello", "ja", "accept_language"),
        (None, None, "ja;q=0, en;q=0.1", "こんにちは", "en", "accept_language"),
        (None, None, "fr, de", "こんにちは", "ja", "script"),  # nothing supported in the header
        (None, None, None, "明日の会議の資料を作って", "ja", "script"),  # Japanese text, no hint at all
        (None, None, None, "カタカナだけ", "ja", "script"),
        (None, None, None, "ｶﾀｶﾅ", "ja", "script"),  # half-width katakana
        (None, None, None, "帮我写一封邮件", "en", "default"),  # Chinese (no kana) is not Japanese
        (None, None, None, "Write me an email", "en", "default"),
        (None, None, None, None, "en", "default"),
        ("", "", "", "", "en", "default"),
    ],
)
def test_resolution_order(explicit, preference, accept, text, expected, why):
    assert resolve_locale_with_reason(explicit, preference, accept, text) == (expected, why)
    assert resolve_locale(explicit, preference, accept, text) == expected


def test_accept_language_edge_cases():
    assert parse_accept_language("*") is None
    assert parse_accept_language("en;q=abc, ja;q=0.4") == "ja"
    assert parse_accept_language("en, ja") == "en"  # equal q keeps header order
    assert parse_accept_language("ja", supported=("en",)) is None
