"""Token counting for prompt budgets: a protocol, and an offline default that needs no download.

`HeuristicTokenizer` approximates BPE tokenizers of the cl100k/o200k family closely enough for budgeting
(typically within ±15% on English prose and Japanese). Whitespace counts zero, so counts are additive over
whitespace-joined sections: the prompt ledger adds up to the count of the whole prompt.
"""

from __future__ import annotations

import re
from typing import Protocol, runtime_checkable

_LETTERS = r"[^\W\d_\u3000-\u9fff\uac00-\ud7af\uff00-\uffef]"
_CJK = r"[\u3000-\u9fff\uac00-\ud7af\uff00-\uffef]"  # kana, kanji, hangul, full-width forms
WORD_CHARS_PER_TOKEN = 7
DIGITS_PER_TOKEN = 3
_PIECE = re.compile(
    rf"{_LETTERS}{{1,{WORD_CHARS_PER_TOKEN}}}"  # a word costs one token per started 7 letters
    rf"|\d{{1,{DIGITS_PER_TOKEN}}}"  # a number one per started 3 digits
    rf"|{_CJK}"  # one per CJK character
    r"|[^\s]"  # one per punctuation mark or symbol; whitespace is free
)
"""Every match is exactly one token, so counting is `len(findall)` and runs in C."""


@runtime_checkable
class Tokenizer(Protocol):
    """Anything that can count tokens. A provider-exact tokenizer (e.g. tiktoken) can be plugged in."""

    name: str

    def count(self, text: str) -> int: ...


class HeuristicTokenizer:
    """Regex-based approximation: ⌈letters/7⌉ per word, ⌈digits/3⌉ per number, one per CJK character or
    symbol, zero for whitespace (every regex match is one token).

    Counts of long strings (skill bodies, listing lines) are cached per instance: keep one tokenizer for the
    process and pass it to every build."""

    name = "heuristic-v1"

    def __init__(self, cache_size: int = 4096) -> None:
        self._cache: dict[str, int] = {}
        self._cache_size = cache_size

    def count(self, text: str) -> int:
        if not text:
            return 0
        cached = self._cache.get(text)
        if cached is not None:
            return cached
        total = len(_PIECE.findall(text))
        if len(text) > 64:  # short strings are cheap to count and would only churn the cache
            if len(self._cache) >= self._cache_size:
                self._cache.clear()
            self._cache[text] = total
        return total

    def truncate(self, text: str, max_tokens: int) -> str:
        """The longest prefix of `text` within `max_tokens` (cut at a piece boundary)."""
        if self.count(text) <= max_tokens:
            return text
        end = 0
        for index, match in enumerate(_PIECE.finditer(text)):
            if index >= max_tokens:
                break
            end = match.end()
        return text[:end]


def truncate_to(tokenizer: Tokenizer, text: str, max_tokens: int) -> str:
    """Prefix of `text` within `max_tokens` for any tokenizer (binary search when it has no `truncate`)."""
    if max_tokens <= 0:
        return ""
    if tokenizer.count(text) <= max_tokens:
        return text
    own = getattr(tokenizer, "truncate", None)
    if callable(own):
        return str(own(text, max_tokens))
    low, high = 0, len(text)
    while low < high:
        mid = (low + high + 1) // 2
        if tokenizer.count(text[:mid]) <= max_tokens:
            low = mid
        else:
            high = mid - 1
    return text[:low]
