"""Locale resolution: explicit request → thread/space preference → Accept-Language → the user's script → en."""

from __future__ import annotations

from collections.abc import Iterable

from skills._text import has_kana

DEFAULT_LOCALE = "en"
SUPPORTED_LOCALES: tuple[str, ...] = ("en", "ja")


def normalize_locale(value: str | None, supported: Iterable[str] = SUPPORTED_LOCALES) -> str | None:
    """'ja-JP', 'JA_jp', 'ja' → 'ja'; None when empty or not supported."""
    if not value:
        return None
    primary = value.strip().lower().replace("_", "-").split("-")[0]
    return primary if primary in set(supported) else None


def parse_accept_language(header: str | None, supported: Iterable[str] = SUPPORTED_LOCALES) -> str | None:
    """The supported language with the highest q-value (ties keep header order); '*' and q=0 are ignored."""
    if not header:
        return None
    supported = tuple(supported)
    best: tuple[float, int, str] | None = None
    for index, item in enumerate(header.split(",")):
        lang, _, params = item.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        code = normalize_locale(lang, supported)
        if code is None or quality <= 0:
            continue
        candidate = (-quality, index, code)
        if best is None or candidate < best:
            best = candidate
    return best[2] if best else None


def resolve_locale_with_reason(
    explicit: str | None,
    preference: str | None,
    accept_language: str | None,
    text: str | None,
    supported: Iterable[str] = SUPPORTED_LOCALES,
) -> tuple[str, str]:
    """Like `resolve_locale`, and also says which source decided (for the skill.selection event)."""
    supported = tuple(supported)
    if code := normalize_locale(explicit, supported):
        return code, "explicit"
    if code := normalize_locale(preference, supported):
        return code, "preference"
    if code := parse_accept_language(accept_language, supported):
        return code, "accept_language"
    if text and "ja" in supported and has_kana(text):
        return "ja", "script"
    return DEFAULT_LOCALE, "default"


def resolve_locale(
    explicit: str | None,
    preference: str | None,
    accept_language: str | None,
    text: str | None,
    supported: Iterable[str] = SUPPORTED_LOCALES,
) -> str:
    """Chooses the run's locale. Japanese is detected from kana, so kanji-only (Chinese) text stays `en`."""
    return resolve_locale_with_reason(explicit, preference, accept_language, text, supported)[0]
