from __future__ import annotations

import pytest

from agent.tokenizer import HeuristicTokenizer, Tokenizer, truncate_to


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("", 0),
        ("hello", 1),
        ("internationalization", 3),
        ("Hello, world!", 4),
        ("12345", 2),
        ("こんにちは", 5),
        ("   \n\t ", 0),
        ("naïve café", 2),
    ],
)
def test_counts(text, tokens):
    assert HeuristicTokenizer().count(text) == tokens


def test_counts_are_additive_over_whitespace_joins():
    tok = HeuristicTokenizer()
    parts = ["## Section\nSome text, with punctuation.", "日本語の文章です。", "x = 42 # comment"]
    assert tok.count("\n\n".join(parts)) == sum(tok.count(p) for p in parts)


def test_cache_returns_the_same_count_and_stays_bounded():
    tok = HeuristicTokenizer(cache_size=2)
    texts = [f"{i} " + "word " * 20 for i in range(5)]
    first = [tok.count(t) for t in texts]
    assert [tok.count(t) for t in texts] == first
    assert len(tok._cache) <= 2


def test_truncate():
    tok = HeuristicTokenizer()
    assert tok.truncate("one two three four", 2) == "one two"
    assert tok.count(tok.truncate("日本語の文章です", 3)) == 3
    assert truncate_to(tok, "short", 10) == "short"
    assert truncate_to(tok, "anything", 0) == ""


def test_truncate_with_a_tokenizer_that_cannot_truncate():
    class Chars:
        name = "chars"

        def count(self, text: str) -> int:
            return len(text)

    assert isinstance(Chars(), Tokenizer)
    assert truncate_to(Chars(), "abcdefgh", 5) == "abcde"
