"""Nearest-example evidence: each skill's own example requests as a small intent model.

A skill file may list `examples:` — requests a person would actually type, most of them without a trigger
word ("turn these notes into something I can show the board"). A prompt is compared with every example of
every skill by IDF-weighted cosine over lexical features: stemmed content words and their adjacent pairs in
English; in Japanese (no spaces), runs of kanji or katakana and their character bigrams, since a change of
script marks a word's edge and the hiragana between runs is mostly particles and verb endings ("を", "して"). The IDF is learnt from the
examples themselves, so a word every skill's examples use ("make", "作っ") weighs little and a word one skill
owns ("slides", "資料") weighs much. Only the single nearest skill gains evidence, and only above a floor: one
request is one intent, and a faint resemblance is not a request.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
from collections.abc import Iterable

from skills._background import BACKGROUND, NO_SKILL
from skills._text import WORD, normalize, stem, words

EXAMPLE_FLOOR = 0.13
"""Cosine below this is a resemblance, not a paraphrase (chosen on the tuning files; see the bench)."""
MIN_SUPPORT = 2
MIN_SHARED = 2
EXAMPLE_MARGIN = 0.04
"""The nearest skill must beat the runner-up by this much, or the prompt is ambiguous and gains nothing."""
_JA_RUN = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uff66-\uff9f々ー]+")
_JA_WORD = re.compile(r"[\u3400-\u9fff々]+|[\u30a0-\u30ffー]+")
"""A run of kanji or of katakana: Japanese words change script at their edges (資料|を|作っ|て), so the runs
are content words and verb stems, and the hiragana between them (particles, endings) is dropped."""


def features(text: str) -> frozenset[str]:
    """The lexical features of one text (English stems and stem pairs; Japanese content bigrams)."""
    norm = normalize(text)
    found: set[str] = set()
    content = [w for w in words(norm) if len(w) > 1]
    found.update(content)
    found.update(f"{a} {b}" for a, b in itertools.pairwise(content))
    for run in _JA_WORD.findall(norm):
        found.add(run)
        if len(run) > 2:  # compounds share parts: 役員会 / 役員, 市場動向 / 動向
            found.update(run[i : i + 2] for i in range(len(run) - 1))
    # Latin words inside Japanese text ("webアプリ", "API") are matched as words too.
    if _JA_RUN.search(norm):
        found.update(stem(w) for w in WORD.findall(norm))
    return frozenset(found)


class ExampleModel:
    """All skills' examples, vectorised once; `nearest` answers which skill a prompt paraphrases."""

    def __init__(self, examples: Iterable[tuple[str, str]], definitions: Iterable[str] = ()) -> None:
        """`examples` are (skill id, example text) pairs; `definitions` (descriptions, triggers) only
        count towards which features are vocabulary."""
        rows = [(skill, features(text)) for skill, text in examples]
        rows = [(skill, feats) for skill, feats in rows if feats]
        frequency: dict[str, int] = {}
        for feats in [*(f for _, f in rows), *(features(text) for text in definitions)]:
            for feat in feats:
                frequency[feat] = frequency.get(feat, 0) + 1
        total = len(rows) or 1
        # A feature seen in one example only is that example's topic ("heat pumps"); seen again (in another
        # example, the description or the triggers), it is how people ask for the skill ("turn … into",
        # "資料"). Only the latter is vocabulary.
        self._idf = {f: math.log(1 + total / n) for f, n in frequency.items() if n >= MIN_SUPPORT}
        # Each skill is one bag of its examples' vocabulary: a word two of its examples use counts more
        # than a word one uses, and a prompt may share a verb with one example and a noun with another.
        counts: dict[str, dict[str, int]] = {}
        for skill, feats in rows:
            bag = counts.setdefault(skill, {})
            for feat in feats:
                if feat in self._idf:
                    bag[feat] = bag.get(feat, 0) + 1
        self._skills = {
            skill: {f: self._idf[f] * (1 + math.log(n)) for f, n in bag.items()}
            for skill, bag in counts.items()
        }
        self._norms = {
            skill: math.sqrt(sum(w * w for w in bag.values())) or 1.0 for skill, bag in self._skills.items()
        }

    def similarities(self, text: str) -> dict[str, tuple[float, str]]:
        """Cosine per skill id, with the shared features that made it (for the reason)."""
        query = frozenset(f for f in features(text) if f in self._idf)
        if not query:
            return {}
        query_norm = math.sqrt(sum(self._idf[f] ** 2 for f in query))
        best: dict[str, tuple[float, str]] = {}
        for skill, bag in self._skills.items():
            shared = [f for f in query if f in bag]
            if len(shared) < MIN_SHARED:  # one word in common is ordinary vocabulary, not a paraphrase
                continue
            cosine = sum(self._idf[f] * bag[f] for f in shared) / (query_norm * self._norms[skill])
            top = sorted(shared, key=lambda f: -bag[f])[:3]
            best[skill] = (cosine, ", ".join(top))
        return best

    def nearest(self, text: str) -> tuple[str, float, str] | None:
        """(skill id, cosine, shared features) of the one skill this text paraphrases, or None (also when
        it is nearest to everyday talk, the background class)."""
        ranked = sorted(self.similarities(text).items(), key=lambda item: -item[1][0])
        if not ranked or ranked[0][1][0] < EXAMPLE_FLOOR or ranked[0][0] == NO_SKILL:
            return None
        runner_up = ranked[1][1][0] if len(ranked) > 1 else 0.0
        if ranked[0][1][0] - runner_up < EXAMPLE_MARGIN:
            return None
        skill, (cosine, shared) = ranked[0]
        return skill, cosine, shared


@functools.lru_cache(maxsize=8)
def model_for(
    skills: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...],
) -> ExampleModel:
    """(skill id, examples, definition texts) → one model per distinct catalog (runs share it)."""
    return ExampleModel(
        [
            *((skill, text) for skill, texts, _ in skills for text in texts),
            *((NO_SKILL, text) for text in BACKGROUND),
        ],
        (text for _, _, defs in skills for text in defs),
    )
