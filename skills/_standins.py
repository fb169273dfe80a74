"""The softer evidence that stands in for a missing trigger word: the intent model, the overlap model for
skills with few examples, and MiniLM when the caller has it warm.

Each returns skill key ("source:id") → (gain, reason). A stand-in's gain is `EXAMPLE_WEIGHT` times the
source's weight: enough alone, below a trigger, and never added on top of one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from skills._background import NO_SKILL
from skills._examples import ExampleModel
from skills._meaning import EmbeddingSimilarity
from skills._text import MatchText, has_kana
from skills.model import Skill

if TYPE_CHECKING:  # (numpy is imported with the model, when a catalog first needs it)
    from skills._classifier import Classifier

EXAMPLE_WEIGHT = 2.75
CLASSIFIER_THRESHOLD = 0.4
"""Probability the intent model must give its top skill. Chosen on 5-fold held-out examples (the model
alone, top skill only, margin 0.1, en + ja: 0.4 → P 0.89 R 0.84; 0.55 → P 0.92 R 0.78) and the tuning files; the
triggers carry the prompts that name their skill."""
BACKGROUND_MARGIN = 0.1
"""…and beat everyday talk by this much."""
SECOND_SKILL_THRESHOLD = 0.9
"""One text is usually one request: a second skill from the same text, or beside a skill that words
already decided, needs this much."""
SHAPED_SECOND = 0.8
"""When only a request shape decided (an action and a deliverable, 2.75: weaker than a trigger), the
model's top reading of the whole message, if another skill, needs this much instead of 0.9: "Find out which
accessibility guidelines apply to our app and fix the contrast issues" is research by its shape and a
repo request by the model (0.89)."""
CLAUSE_THRESHOLD = 0.7
"""A Japanese clause of its own that asks for something (「…を比べて、その結果を議会で見せる資料にしてください」)
may add its skill at this much instead of 0.9: the model reads a clause of a few words less sharply than a
message, and the second request of a two-part Japanese message is such a clause…"""
CLAUSE_LEAD = 0.45
"""…when that skill leads every other reading of the clause, everyday talk included, by this much…"""
CLAUSE_SUPPORT = 0.3
"""…and the whole message reads it at least this much too (a clause such as 「元データも示して」 inside a fact
check reads as something the message as a whole is not)."""
EN_CLAUSE_THRESHOLD = 0.85
EN_CLAUSE_LEAD = 0.3
"""An English clause of its own that asks (`_CLAUSE_ASKS_EN`: "Map out the move for August and draft the email") may
add its top reading at this much when it leads every other reading of the clause, everyday talk included,
by this much. Swept on the tuning sets: 0.85 / 0.8 / 0.75 gave English recall 0.934 / 0.947 / 0.961 on
blind4 and one extra false second skill on blind3 from 0.8 down ("Help me structure it" beside a talk);
after round 6, 0.75 → 0.85 cost blind4 two second skills and saved blind7 and fresh6 one false one each
("I'd like something with references I can show the social worker" read as slides, 0.84). A
lower bar alone cost English precision: it needs the clause to ask, quotations left out, and one skill per
clause."""
_ASKS_JA = re.compile(
    r"(?:て|で|ほしい|欲しい|ほしいです|ください|下さい|お願い|お願いします|お願いできますか|もらえる|もらえますか|もらえませんか"
    r"|いただけますか|いただけませんか|くれる|くれますか|くれない|ちょうだい)[。！？!?\s]*$"
)
"""How a Japanese request ends: the clause asks, rather than describing the situation (「…アプリのスタートアップです」)."""


def asks(part: str) -> bool:
    """A Japanese clause that ends by asking for something."""
    return has_kana(part) and bool(_ASKS_JA.search(part.strip()))


BLEND_WEIGHT = 0.5
BLEND_THRESHOLD = 0.4
"""With MiniLM: the probability is (1 - w) · intent model + w · neighbour votes (`skills._meaning`), and a
skill needs this much (5-fold held-out English examples: P 0.96 R 0.90, against 0.88 / 0.83 alone)."""
EMBEDDING_FLOOR = 0.45
"""MiniLM cosine to a skill's nearest example below which a prompt is not a paraphrase of it."""
EMBEDDING_MARGIN = 0.1
"""…and by which it must beat every other skill: a prompt near two skills is ambiguous, not both."""

_ASKING_VERBS = (
    "write draft rewrite edit polish proofread make build fix put turn give send create prepare set schedule "
    "find check look research compare plan map break draw deploy add book remind email post summari[sz]e "
    "outline sketch lay pull spin push ship show come work"
).split()
"""English verbs that open a request; after "and" they start a second one (a noun after "and" does not:
"slides and speaker notes")."""

_CLAUSE_ASKS_EN = re.compile(
    r"^(?:(?:please|pls|plz|kindly|also|now|just|then|first|next|finally|and|so|ok|okay)\s+)*(?:"
    + "|".join(_ASKING_VERBS)
    + r"|get|sort|tell|help|explain|list|organi[sz]e|arrange|dig|figure|start|bump|upgrade|update|install|debug"
    r"|run|test|review|redo|clean|tidy|rework|improve|shorten|expand|translate|convert|move|migrate|keep|nudge"
    r"|ping|walk|pick|choose|decide|work|hook|wire|swap|change|remove|delete|merge|rename|refactor|patch)\b"
    r"|\b(?:please|pls|plz|can (?:you|u)|could (?:you|u)|would (?:you|u)|will (?:you|u)|i(?:'d| would) like"
    r"|(?:i|we) (?:need|want)|help (?:me|us)|let'?s|mind)\b"
    r"|^(?:what|how|which|who|why|where|when|is|are|does|do|did|should|shall|any)\b"
)
"""An English clause that asks for something: an imperative, a word of asking or a question. A clause of
several that does neither is context ("My landlord says rent caps always backfire. Is that what the
economists found?") or material ("Overdue report, 300 unread emails, …"), not a request of its own."""

_CLAUSE = re.compile(
    r"[;!?。！？]|\.(?!\w)|\b(?:and then|then|and also|after that|afterwards)\b|、(?:それから|そのあと|その後|あと|それを)"
    # the て-form joins two requests (「…を調べて、…を書いて」); について、として、によって… are particles
    r"|(?<=[てで])(?<!ついて)(?<!として)(?<!とって)(?<!よって)(?<!おいて)(?<!対して)(?<!関して)、"
    r"|(?<=たら)、"  # 「…を直したら、…も用意して」
    r"|(?<=[てで]から)、"  # 「…を比べてから、…に入れて」
    # "and" before a verb of asking joins two English requests ("Map out the move and draft the email")
    r"|,?\s+and\s+(?=(?:" + "|".join(_ASKING_VERBS) + r")\b)"
)


_CONNECTIVE = re.compile(
    r"^(?:(?:and|also|then|plus|after that|afterwards)\b[\s,]*)+|^(?:それから|そのあと|その後|あと|それと|ついでに|さらに|また)[、,\s]*"
)
"""A word that only says another request follows: the examples, one request each, rarely start with it."""

_NAMING = re.compile(r"[\u30a0-\u30ff\u3400-\u9fff\uff66-\uff9f々a-z0-9]")
CLAUSE_MIN_NAMING = 3
"""Characters other than hiragana a Japanese clause needs to be a request of its own: 「直してもらえますか」
(one kanji and asking words) names nothing and goes on with the clause before it; its verb alone reads as
whatever skill that verb is most often asked of."""


def names_something(part: str) -> bool:
    """A clause that can carry a second request: any English clause, a Japanese one that names a thing."""
    return not has_kana(part) or len(_NAMING.findall(part)) >= CLAUSE_MIN_NAMING


def clauses(text: str) -> list[str]:
    """The parts of a two-part request ("look into X, then turn it into something I can show"): each part
    is one request, and the model, which learnt from one-request examples, reads each alone (without the
    connective that joined it: 「…して。あと、…も考えて」)."""
    parts = [_CONNECTIVE.sub("", p.strip()).strip() for p in _CLAUSE.split(text) if p and p.strip()]
    parts = [p for p in parts if p]
    return parts if len(parts) > 1 else []


def classified(
    classifier: Classifier,
    sources: list[tuple[MatchText, float, str]],
    *,
    decided: bool,
    votes: dict[str, float] | None = None,
    in_clause: set[str] | None = None,
    shaped: bool = False,
) -> dict[str, tuple[float, str]]:
    """Every skill the intent model recognises in a source text, and (at >= 0.9; 0.7 for a Japanese clause
    that asks and 0.85 for an English one, `_clause_request`) in each of its clauses.
    `decided`: words already chose a skill, so only a confident second request counts (`shaped`: only a
    request shape did, `SHAPED_SECOND`). `votes`: MiniLM neighbour votes for the
    first source (the latest message), blended in. `in_clause` collects the skills read in one clause of
    a several-part message (not only in the message as a whole)."""
    found: dict[str, tuple[float, str]] = {}
    for at, (text, weight, where) in enumerate(sources):
        parts = [text.normalized, *clauses(text.normalized)]
        whole: dict[str, float] = {}
        for index, part in enumerate(parts):
            if index and not (names_something(part) if has_kana(part) else _CLAUSE_ASKS_EN.search(part)):
                continue
            blend = votes if at == 0 and index == 0 and not decided else None
            probabilities = classifier.probabilities(part)
            if blend is not None and probabilities:
                probabilities = {
                    k: (1 - BLEND_WEIGHT) * p + BLEND_WEIGHT * blend.get(k, 0.0)
                    for k, p in probabilities.items()
                }
            if index == 0:
                whole = probabilities
            background = probabilities.pop(NO_SKILL, 0.0)
            first = BLEND_THRESHOLD if blend is not None else CLASSIFIER_THRESHOLD
            ranked = sorted(probabilities.items(), key=lambda item: -item[1])
            # A clause asks one thing, and is read for a second request only: "one text is one request"
            # unless confident.
            for rank, (key, probability) in enumerate(ranked[:1] if index else ranked):
                bar = SECOND_SKILL_THRESHOLD if decided or rank > 0 or index > 0 else first
                if shaped and not index and not rank:
                    bar = min(bar, SHAPED_SECOND)
                if index and not rank and _clause_request(part, probability, ranked, background, whole, key):
                    bar = min(bar, CLAUSE_THRESHOLD if has_kana(part) else EN_CLAUSE_THRESHOLD)
                if probability < bar or probability < background + (BACKGROUND_MARGIN if rank == 0 else 0.0):
                    continue
                gain = EXAMPLE_WEIGHT * weight
                if index and in_clause is not None:
                    in_clause.add(key)
                label = "intent model + MiniLM" if blend is not None else "intent model"
                if gain > found.get(key, (0.0, ""))[0]:
                    found[key] = (gain, f"{label} {probability:.2f} in {where} (+{gain:.1f})")
    return found


def _clause_request(
    part: str,
    probability: float,
    ranked: list[tuple[str, float]],
    background: float,
    whole: dict[str, float],
    key: str,
) -> bool:
    """The clause's top reading is a request of its own: it asks and leads every other reading by
    `CLAUSE_LEAD`, and the whole message reads it too (`CLAUSE_SUPPORT`); in English (whose clauses are
    read only when they ask) by `EN_CLAUSE_LEAD`."""
    runner_up = max([background, *(p for _, p in ranked[1:2])])
    if not has_kana(part):
        return probability - runner_up >= EN_CLAUSE_LEAD
    return probability - runner_up >= CLAUSE_LEAD and whole.get(key, 0.0) >= CLAUSE_SUPPORT and asks(part)


def neighbour_votes(similarity: Any, query: str, skills: Sequence[Skill]) -> dict[str, float] | None:
    """MiniLM votes for an English query, when the caller's similarity function can give them."""
    if not isinstance(similarity, EmbeddingSimilarity) or has_kana(query) or not query.strip():
        return None
    return similarity.votes(similarity.query(query), skills)


def nearest_examples(
    model: ExampleModel, sources: list[tuple[MatchText, float, str]], exclude: set[str]
) -> dict[str, tuple[float, str]]:
    """The skill whose examples each source text paraphrases, by word overlap; for skills the intent
    model does not know (`exclude` are those it does)."""
    found: dict[str, tuple[float, str]] = {}
    for text, weight, where in sources:
        nearest = model.nearest(text.normalized)
        if nearest is None or nearest[0] in exclude:
            continue
        key, cosine, shared = nearest
        gain = EXAMPLE_WEIGHT * weight
        if gain > found.get(key, (0.0, ""))[0]:
            found[key] = (
                gain,
                f"like this skill's examples ({cosine:.2f}: {shared}) in {where} (+{gain:.1f})",
            )
    return found


def nearest_by_meaning(similarity: Any, query: str, skills: Sequence[Skill]) -> dict[str, tuple[float, str]]:
    """The one skill a prompt means, by MiniLM cosine to its description and examples (English only)."""
    if has_kana(query) or not skills:
        return {}
    ranked = sorted(zip(similarity(query, skills), skills, strict=True), key=lambda item: -item[0])
    best, skill = ranked[0]
    runner_up = ranked[1][0] if len(ranked) > 1 else 0.0
    if best < EMBEDDING_FLOOR or best - runner_up < EMBEDDING_MARGIN:
        return {}
    gain = EXAMPLE_WEIGHT
    return {skill.label: (gain, f"semantic similarity {best:.2f} (+{gain:.1f})")}
