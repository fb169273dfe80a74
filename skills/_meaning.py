"""MiniLM evidence for selection, when the caller already has the model warm (never loaded here).

Two uses of one embedding of the prompt (English only: all-MiniLM-L6-v2 was trained on English, and on
Japanese its cosines are noise):

- **neighbour votes**: the prompt's seven nearest example requests (every skill's English examples and the
  everyday-talk lines) vote for their classes. The intent model reads n-grams; MiniLM reads paraphrases that
  share no n-gram with any example ("walk the team through the numbers" ≈ "present the figures"). Blended
  with the intent model's probabilities (see `skills.selection`), on held-out examples (5-fold, 1,206
  English texts, neighbours from the other folds) precision/recall rose from 0.88/0.83 (intent model
  alone) to 0.96/0.90.
- **nearest skill** (`similarity(query, skills)`, the `SimilarityFn` protocol): each skill's nearest text
  among its description and examples, for catalogs whose skills have too few examples for the intent model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from skills._background import NO_SKILL, background
from skills._text import has_kana
from skills.model import Skill

NEIGHBOURS = 7
_Key = tuple[str, str, str, str, int]


def _english(text: str) -> bool:
    return not has_kana(text) and not any("\u3400" <= c <= "\u9fff" for c in text)


class EmbeddingSimilarity:
    """Callable as a `SimilarityFn`; caches every text's vector (skills by key, locale, version and
    examples), so a long-lived process embeds each skill once. `embed(texts) -> vectors`."""

    def __init__(self, embed: Callable[[list[str]], Any]) -> None:
        self._embed = embed
        self._skills: dict[_Key, Any] = {}
        self._background: Any = None
        self._last: tuple[str, Any] | None = None

    def _vectors(self, texts: list[str]) -> Any:
        import numpy as np

        vectors = np.asarray(self._embed(texts), dtype=np.float32)
        return vectors / (np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-12)

    def _skill_vectors(self, skills: Sequence[Skill]) -> list[Any]:
        def key(s: Skill) -> _Key:
            return (*s.key, s.locale, s.version, hash(s.examples))

        missing = [s for s in skills if key(s) not in self._skills]
        if missing:
            texts = [[f"{s.display_name}. {s.description}", *s.examples] for s in missing]
            vectors = self._vectors([t for group in texts for t in group])
            at = 0
            for skill, group in zip(missing, texts, strict=True):
                self._skills[key(skill)] = vectors[at : at + len(group)]
                at += len(group)
        return [self._skills[key(s)] for s in skills]

    def query(self, text: str) -> Any:
        """The prompt's vector; the last one is kept (votes and nearest skill ask for the same text)."""
        if self._last is None or self._last[0] != text:
            self._last = (text, self._vectors([text])[0])
        return self._last[1]

    def __call__(self, query: str, skills: Sequence[Skill]) -> list[float]:
        import numpy as np

        vector = self.query(query)
        return [float(np.max(v @ vector)) for v in self._skill_vectors(skills)]

    def votes(self, vector: Any, skills: Sequence[Skill]) -> dict[str, float]:
        """Class ("source:id", or NO_SKILL) → share of the prompt's nearest English examples."""
        import numpy as np

        if self._background is None:
            self._background = self._vectors([t for t in background() if _english(t)])
        labels: list[str] = []
        rows: list[Any] = []
        for skill, vectors in zip(skills, self._skill_vectors(skills), strict=True):
            english = [i + 1 for i, e in enumerate(skill.examples) if _english(e)]  # row 0: description
            if english:
                rows.append(vectors[english])
                labels += [skill.label] * len(english)
        rows.append(self._background)
        labels += [NO_SKILL] * len(self._background)
        cosines = np.concatenate(rows) @ vector
        nearest = np.argsort(-cosines, kind="stable")[:NEIGHBOURS]
        found: dict[str, float] = {}
        for index in nearest:
            found[labels[index]] = found.get(labels[index], 0.0) + 1.0 / NEIGHBOURS
        return found
