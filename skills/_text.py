"""Text normalisation and phrase matching shared by selection and the skill tools.

English is matched on light-stemmed word sequences with filler words dropped ("write a blog post" matches the
trigger "blog post"); Japanese (no spaces) is matched as NFKC-normalised substrings.
"""

from __future__ import annotations

import re
import unicodedata

WORD = re.compile(r"[a-z0-9_]+")
JAPANESE_KANA = re.compile(r"[\u3040-\u30ff\uff66-\uff9f]")
MAX_GAP = 2
NON_ASCII = re.compile(r"[^\x00-\x7f]")
KATAKANA = re.compile(r"[\u30a1-\u30fa\u30fc\uff66-\uff9f]")
_STATE = ("ある", "あっ", "あり", "あれ")
"""After a て-form: a state (「書いてある」 it is written), not a request; 「書いてあげて」 still asks."""
STOPWORDS = frozenset(
    """a an the and or but if of to for in on at by with from into onto about as is are was were be been being
    it its this that these those my our your their his her me us you i we they he she them him please pls
    can could would should will shall may might must do does did done have has had just some any all
    so very really also up out over then than there here what which who whom whose how when where why
    want wants need needs like get got make let lets help me im i'm id i'd ok okay hi hello""".split()
)


def normalize(text: str) -> str:
    """NFKC (full-width → half-width, compatibility forms) and lower case."""
    return unicodedata.normalize("NFKC", text).lower()


def stem(word: str) -> str:
    """A deliberately small English stemmer: it only has to map a word and its inflections together."""
    w = word
    if len(w) > 4 and w.endswith("ies"):
        w = w[:-3] + "y"
    elif w.endswith("sses"):
        w = w[:-2]
    elif len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    for suffix in ("ing", "ed"):  # not "er": container→contain, worker→work would collide
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            w = w[: -len(suffix)]
            break
    if len(w) >= 4 and w[-1] == w[-2] and w[-1] not in "lsz":
        w = w[:-1]
    if len(w) > 3 and w.endswith("e"):
        w = w[:-1]
    return w


def words(text: str) -> list[str]:
    """Stemmed content words of normalised text, in order."""
    return [stem(w) for w in WORD.findall(text.replace("-", " ")) if w not in STOPWORDS]


def is_japanese_phrase(phrase: str) -> bool:
    return bool(NON_ASCII.search(phrase))


def has_kana(text: str) -> bool:
    return bool(JAPANESE_KANA.search(text))


class MatchText:
    """A text prepared once for many phrase lookups (selection checks hundreds of skills against it)."""

    __slots__ = ("content_at", "every", "normalized", "positions")

    def __init__(self, text: str) -> None:
        self.normalized = normalize(text)
        self.positions: dict[str, list[int]] = {}
        """Content words (filler dropped) → their positions in the content-word sequence."""
        self.every: dict[str, list[int]] = {}
        """Every word, filler included, for idioms such as "look into" or "help desk"."""
        self.content_at: list[int] = []
        """Content-word position → its position among every word (spans are in the latter)."""
        for index, word in enumerate(WORD.findall(self.normalized.replace("-", " "))):
            token = stem(word)
            self.every.setdefault(token, []).append(index)
            if word not in STOPWORDS:
                self.positions.setdefault(token, []).append(len(self.content_at))
                self.content_at.append(index)

    def contains(self, phrase: Phrase) -> bool:
        """Japanese: substring (a katakana word not cut short). English: the phrase's words in order, with at most MAX_GAP words between
        neighbours, so "build me a small web app" matches "build app" but a word at the far end does not."""
        if phrase.japanese and (not phrase.bounded or phrase.text not in self.normalized):
            return phrase.text in self.normalized  # (the common case, without a call)
        return bool(self.spans(phrase, first_only=True))

    def spans(self, phrase: Phrase, *, first_only: bool = False) -> list[tuple[int, int]]:
        """Where the phrase occurs: (first, last) word positions in English (filler counted), character
        offsets (start, end) in Japanese."""
        if phrase.japanese:
            found: list[tuple[int, int]] = []
            text, size = self.normalized, len(phrase.text)
            at = text.find(phrase.text)
            while at >= 0 and not (first_only and found):
                # A katakana word goes on as long as its katakana do: "プレゼン" is not in "プレゼント"
                # (a gift), "メール" not in "メールアドレス".
                if not (
                    phrase.katakana_end and at + size < len(text) and KATAKANA.match(text[at + size])
                ) and not (phrase.te_end and text.startswith(_STATE, at + size)):
                    found.append((at, at + size - 1))
                at = text.find(phrase.text, at + 1)
            return found
        index = self.every if phrase.idiom else self.positions
        first = index.get(phrase.tokens[0])
        if not first:
            return []
        rest = [r for r in (index.get(t) for t in phrase.tokens[1:]) if r]
        if len(rest) != len(phrase.tokens) - 1:
            return []
        result: list[tuple[int, int]] = []
        for start in first:
            at = start
            for options in rest:
                at = next((p for p in options if at < p <= at + 1 + MAX_GAP), -1)
                if at < 0:
                    break
            else:
                span = (start, at) if phrase.idiom else (self.content_at[start], self.content_at[at])
                result.append(span)
                if first_only:
                    break
        return result


class Phrase:
    """A trigger, tag or name compiled for matching.

    A phrase of several words that is mostly filler ("look into", "help desk", "make it sound") is an idiom:
    it is matched with its filler words, since its one content word alone ("look", "desk") means little.
    """

    __slots__ = ("bounded", "idiom", "japanese", "joined", "katakana_end", "te_end", "text", "tokens")

    def __init__(self, text: str) -> None:
        self.text = normalize(text).strip()
        self.japanese = is_japanese_phrase(self.text)
        self.katakana_end = self.japanese and bool(KATAKANA.match(self.text[-1:]))
        # 「この記事に書いてある数字」: a て-form before ある describes what is there, it asks for nothing
        self.te_end = self.japanese and self.text.endswith(("て", "で"))
        self.bounded = self.katakana_end or self.te_end
        self.idiom = False
        self.tokens: tuple[str, ...] = ()
        if not self.japanese:
            self.tokens = tuple(words(self.text))
            every = tuple(stem(w) for w in WORD.findall(self.text.replace("-", " ")))
            if len(self.tokens) < 2 <= len(every):
                self.tokens, self.idiom = every, True
        self.joined = " " + " ".join(self.tokens) + " "

    def within(self, other: Phrase) -> bool:
        """True when this phrase is part of `other` (so a match of `other` already covers it)."""
        if self.japanese or other.japanese:
            return self.text in other.text
        return self.joined in other.joined

    @property
    def empty(self) -> bool:
        return not self.text or (not self.japanese and not self.tokens)
