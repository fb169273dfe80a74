"""Skill selection: rank every skill against the conversation, activate the best that fit, list the rest.

Scores are sums of evidence, each recorded as a human-readable reason: trigger phrases (strongest), activation
tags, an explicit mention of the skill's id or name, preferred tool names, description keywords (only for
skills with few triggers, e.g. custom skills), the agent type, and — when no word decides — the stand-ins of
`skills._standins` (the learned intent model, the overlap model, MiniLM when warm). Evidence is
weighted by where it was found: the latest user message counts most, earlier messages, the run input and
the thread title less. Activation is budgeted in rank order and never cuts a skill mid-way; a skill that does
not fit is skipped (with its reason) and stays reachable through the listing and `skill_get`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from skills._background import NO_SKILL
from skills._intents import (
    INTENT_WEIGHT,
    Request,
    action_cues,
    intent_evidence,
    is_acknowledgement,
    is_quick_question,
    may_be_news,
)
from skills._meaning import EmbeddingSimilarity
from skills._standins import classified, clauses, nearest_by_meaning, nearest_examples, neighbour_votes
from skills._text import WORD, MatchText, Phrase, has_kana, normalize, words
from skills.catalog import Catalog
from skills.model import Skill
from skills.render import approx_tokens, render_listing_line, render_skill_block

TRIGGER_WEIGHT = 3.0
PHRASE_BONUS = 0.5
TAG_WEIGHT = 1.5
NAME_WEIGHT = 4.0
TOOL_WEIGHT = 1.0
DESCRIPTION_WEIGHT = 0.75
DESCRIPTION_MIN_HITS = 2
DESCRIPTION_CAP = 3.0
AGENT_TYPE_WEIGHT = 1.0
TOPIC_FACTOR = 0.25
"""A trigger inside another skill's request (between its action and its deliverable) is what that request is
about; it keeps a quarter of its weight, so it ranks the skill without activating it."""
TOPIC_NOTE = ", as the topic of a "
SHAPE_NOTE = "request "
ACTIVATION_THRESHOLD = 2.5
RELATIVE_THRESHOLD = 0.5
"""A second skill is activated only if it scores at least half the best one: a passing word should not drag
in a skill next to a clearly requested one."""
HISTORY_WEIGHTS = (1.0, 0.5, 0.35, 0.25)
RUN_INPUT_WEIGHT = 0.8
TITLE_WEIGHT = 0.4

AGENT_TYPE_CATEGORIES: dict[str, tuple[str, ...]] = {
    "research": ("research",),
    "researcher": ("research",),
    "writer": ("writing",),
    "writing": ("writing",),
    "planner": ("planning",),
    "planning": ("planning",),
    "slides": ("slides",),
    "presenter": ("slides",),
    "coder": ("software",),
    "coding": ("software",),
    "developer": ("software",),
    "software": ("software",),
    "engineer": ("software",),
}

SimilarityFn = Callable[[str, Sequence[Skill]], Sequence[float]]
"""(query text, skills) → one cosine similarity per skill, in [-1, 1]."""
DecisionStatus = Literal["activated", "listed", "unlisted", "unavailable"]


class SkillMatcher:
    """One skill's phrases, compiled from all its locale variants (Japanese text finds English skills)."""

    def __init__(self, variants: Sequence[Skill]) -> None:
        self.phrases: list[tuple[Phrase, float, str]] = []
        seen: set[str] = set()
        triggers = {t for s in variants for t in s.triggers}

        def add(text: str, weight: float, label: str) -> None:
            phrase = Phrase(text)
            ident = f"{label}:{phrase.text if phrase.japanese else phrase.joined}"
            if phrase.empty or ident in seen:
                return
            seen.add(ident)
            bonus = (
                PHRASE_BONUS if len(phrase.tokens) > 1 or (len(phrase.text) >= 4 and phrase.japanese) else 0
            )
            self.phrases.append((phrase, weight + (bonus if label == "trigger" else 0), label))

        for skill in variants:
            # A multi-word id or name in the text is an explicit request ("use the slides-author skill");
            # a one-word name is ordinary vocabulary and left to the triggers.
            for text in (skill.id, skill.name, skill.title):
                if text and len(words(text)) != 1:
                    add(text, NAME_WEIGHT, "name")
            for trigger in skill.triggers:
                add(trigger, TRIGGER_WEIGHT, "trigger")
            for tag in skill.activation_tags:
                add(tag.replace("-", " ").replace("_", " "), TAG_WEIGHT, "tag")
            for tool in skill.contract.preferred_tools:
                if "_" in tool:  # generic one-word tool names ("search") say nothing about intent
                    add(tool, TOOL_WEIGHT, "tool")
        self.openers: dict[str, list[Phrase]] = {}
        """English triggers by their first token: which of them can open a clause ("Research …")."""
        for phrase, _, label in self.phrases:
            if label == "trigger" and not phrase.japanese:
                self.openers.setdefault(phrase.tokens[0], []).append(phrase)
        self.keywords: frozenset[str] = frozenset()
        if len(triggers) < 3:
            text = " ".join(f"{s.name} {s.title} {s.description}" for s in variants)
            self.keywords = frozenset(w for w in words(normalize(text)) if len(w) >= 4)


class SelectionInput(BaseModel):
    """What selection looks at. `user_messages` are oldest first; the last one is the latest."""

    model_config = ConfigDict(extra="forbid")

    user_messages: list[str] = Field(default_factory=list)
    thread_title: str | None = None
    run_input: str | None = None
    agent_type: str | None = None
    locale: str = "en"
    locale_source: str | None = None

    def sources(self) -> list[tuple[MatchText, float, str]]:
        recent = [m for m in self.user_messages if m and m.strip()][-len(HISTORY_WEIGHTS) :]
        found: list[tuple[MatchText, float, str]] = []
        for age, text in enumerate(reversed(recent)):
            found.append(
                (
                    MatchText(_material_out(text)),
                    HISTORY_WEIGHTS[age],
                    "latest message" if age == 0 else "earlier message",
                )
            )
        if self.run_input and self.run_input.strip() not in {m.strip() for m in recent}:
            # With no user message yet, the run input is the request itself.
            weight = RUN_INPUT_WEIGHT if recent else HISTORY_WEIGHTS[0]
            found.append((MatchText(self.run_input), weight, "run input"))
        if self.thread_title and self.thread_title.strip():
            found.append((MatchText(self.thread_title), TITLE_WEIGHT, "thread title"))
        return found

    def query_text(self) -> str:
        """The text embedding similarity compares against: latest message, then run input and title."""
        parts = [*self.user_messages[-1:], self.run_input or "", self.thread_title or ""]
        return "\n".join(p for p in dict.fromkeys(parts) if p)


_QUOTED = re.compile(r"“[^“”]{12,}”|\"[^\"]{12,}\"|‘.{12,}?’(?!\w)|(?<!\w)'.{12,}?'(?!\w)")
QUOTE_MARK = " … "


def without_quotes(text: str) -> str:
    """The message with English quoted passages left out: pasted text is the request's material ("Proofread?
    'Their going to be … changes to the rota next month …'"), and what it is about (a rota) is no request of
    another skill. Japanese 「…」 also quotes a claim or a title that the request is about
    (「『…』って話、ファクトチェックして」), so it stays."""
    return _QUOTED.sub(QUOTE_MARK, text)


def _material_out(text: str) -> str:
    """An English message without its quoted passages, when words remain around them: "Fix the typos? 'We
    will be planning the summer schedule…'" asks for a proofread; the plan is the pasted text's topic."""
    if has_kana(text):
        return text
    rest = without_quotes(text)
    return rest if rest != text and words(rest.replace(QUOTE_MARK, " ")) else text


class SkillDecision(BaseModel):
    """Why one skill was activated, listed, left out of the listing, or unavailable."""

    id: str
    source: str
    name: str
    status: DecisionStatus
    score: float
    tokens: int | None = None
    reasons: list[str] = Field(default_factory=list)


class Selection(BaseModel):
    """The outcome for one run: activated skills (bodies go in the prompt), the ranked listing, the reasons."""

    locale: str
    locale_source: str | None = None
    activated: list[Skill] = Field(default_factory=list)
    listed: list[Skill] = Field(default_factory=list)
    unlisted_count: int = 0
    """Available skills that did not fit the listing budget; the prompt says so and how to find them."""
    decisions: list[SkillDecision] = Field(default_factory=list)
    budget_tokens: int = 0
    used_tokens: int = 0

    @property
    def activated_ids(self) -> list[str]:
        return [s.id for s in self.activated]

    def decision(self, skill_id: str, source: str | None = None) -> SkillDecision | None:
        return next(
            (d for d in self.decisions if d.id == skill_id and (source is None or d.source == source)), None
        )

    def to_event(self) -> dict[str, Any]:
        """The `skill.selection` event payload (camelCase, JSON-ready)."""
        return {
            "locale": self.locale,
            "localeSource": self.locale_source,
            "budgetTokens": self.budget_tokens,
            "usedTokens": self.used_tokens,
            "activated": [{"id": s.id, "source": s.source} for s in self.activated],
            "listedCount": len(self.listed),
            "unlistedCount": self.unlisted_count,
            "decisions": [d.model_dump() for d in self.decisions],
        }


def _score(
    matcher: SkillMatcher,
    sources: list[tuple[MatchText, float, str]],
    topics: Sequence[Sequence[tuple[str, tuple[int, int]]]] = (),
    ja_topics: Sequence[Sequence[tuple[str, tuple[int, int]]]] = (),
) -> tuple[float, list[str]]:
    """`topics[i]`: word spans of source i that another skill's request is about (see `_requests`);
    `ja_topics[i]`: the same as character spans of Japanese text (see `_japanese_topics`)."""
    matches: list[tuple[Phrase, float, str, str]] = []
    for phrase, weight, label in matcher.phrases:
        best, where, topic_of = 0.0, "", ""
        for at, (text, source_weight, name) in enumerate(sources):
            if source_weight > best and text.contains(phrase):
                best, where, topic_of = source_weight, name, ""
                japanese = phrase.japanese
                given = ja_topics if japanese else topics
                inside = given[at] if at < len(given) else ()
                spans = text.spans(phrase) if inside else []
                for other, (start, end) in inside:
                    # English: strictly between the action and the deliverable; Japanese: within the topic
                    if all((start <= a if japanese else start < a) and b < end for a, b in spans):
                        topic_of = other
        if best:
            if topic_of:
                best *= TOPIC_FACTOR
                where = f"{where}{TOPIC_NOTE}{topic_of} request"
            matches.append((phrase, weight * best, label, where))
    # One mention is one piece of evidence: "slide deck" must not also count as "slide" and "deck".
    matches.sort(key=lambda m: -len(m[0].text))
    score = 0.0
    reasons: list[str] = []
    kept: list[Phrase] = []
    for phrase, gain, label, where in matches:
        if any(phrase.within(other) for other in kept):
            continue
        kept.append(phrase)
        score += gain
        reasons.append(f"{label} '{phrase.text}' in {where} (+{gain:.1f})")
    if matcher.keywords:
        hits: dict[str, float] = {}
        for text, weight, _ in sources:
            for word in matcher.keywords & text.positions.keys():
                hits[word] = max(hits.get(word, 0.0), weight)
        if len(hits) >= DESCRIPTION_MIN_HITS:
            gain = min(DESCRIPTION_CAP, sum(DESCRIPTION_WEIGHT * w for w in hits.values()))
            score += gain
            reasons.append(f"description keywords {', '.join(sorted(hits)[:5])} (+{gain:.1f})")
    return score, reasons


def _requests(
    skills: Sequence[Skill], sources: list[tuple[MatchText, float, str]]
) -> dict[str, list[tuple[int, Request]]]:
    """Skill id → (source index, request shape) for every official skill whose request shape is present."""
    found: dict[str, list[tuple[int, Request]]] = {}
    for skill in skills:
        if skill.source != "official":
            continue
        for at, (text, _, _) in enumerate(sources):
            request = intent_evidence(skill.id, text)
            if request is not None:
                found.setdefault(skill.id, []).append((at, request))
    return found


def _topics(
    skill_id: str, requests: dict[str, list[tuple[int, Request]]], count: int
) -> list[list[tuple[str, tuple[int, int]]]]:
    """Per source, the spans other skills' requests are about: a trigger there names the topic
    ("present our hiring *plan* to the board"), not the deliverable."""
    topics: list[list[tuple[str, tuple[int, int]]]] = [[] for _ in range(count)]
    for other, found in requests.items():
        if other != skill_id:
            for at, request in found:
                if request.span is not None:
                    topics[at].append((other, request.span))
    return topics


_ABOUT = re.compile(r"について|に関して|に関する|をテーマに")
_SENTENCE_END = re.compile(r"[。！？!?\n]")
_POINTED = re.compile(
    r"(?:この|その|あの|こちらの|添付の|以下の|下記の|先日の|前回の)(?P<thing>[^、。！？!?\sのをにがはでと]{1,12})"
)
"""「この記事」「その資料」「添付のメール」: a thing the asker points at, already there; when the sentence goes on to
ask another skill for something, it is what that request works on (「この記事に書いてある数字、ファクトチェックして」)."""


def _japanese_topics(
    catalog: Catalog, skills: Sequence[Skill], sources: list[tuple[MatchText, float, str]]
) -> list[list[tuple[str, tuple[int, int]]]]:
    """Per source, (skill id, character span) for every 「X について」 whose sentence goes on to request that
    official skill (one of its Japanese triggers or action cues after the marker): X is what the request is
    about (「メリットとデメリットについて…コラムを書いて」 asks for a column, not research)."""
    found: list[list[tuple[str, tuple[int, int]]]] = [[] for _ in sources]
    for at, (text, _, _) in enumerate(sources):
        norm = text.normalized
        if not has_kana(norm):
            continue
        # (topic start, topic end, where the rest of the sentence starts)
        spans: list[tuple[int, int, int]] = []
        for marker in _ABOUT.finditer(norm):
            start = max((m.end() for m in _SENTENCE_END.finditer(norm, 0, marker.start())), default=0)
            spans.append((start, marker.start(), marker.end()))
        for pointer in _POINTED.finditer(norm):
            spans.append((pointer.start("thing"), pointer.end("thing"), pointer.end()))
        for start, end, after in spans:
            stop = _SENTENCE_END.search(norm, after)
            rest = MatchText(norm[after : stop.start() if stop else len(norm)])
            for skill in skills:
                if skill.source != "official":
                    continue
                phrases = [p for p, _, label in catalog.matcher(skill.key).phrases if label == "trigger"]
                if any(p.japanese and rest.contains(p) for p in (*phrases, *action_cues(skill.id))):
                    found[at].append((skill.id, (start, end)))
    return found


def _intent(
    skill_id: str,
    requests: dict[str, list[tuple[int, Request]]],
    sources: list[tuple[MatchText, float, str]],
    score: float,
    reasons: list[str],
) -> tuple[float, list[str]]:
    """A request shape (action + deliverable) stands in for a missing trigger; it never adds to one."""
    for at, found in requests.get(skill_id, []):
        _, weight, where = sources[at]
        gain = INTENT_WEIGHT * weight
        if gain > score:
            return gain, [
                *reasons,
                f"{SHAPE_NOTE}'{found.action} … {found.deliverable}' in {where} (+{gain:.1f})",
            ]
    return score, reasons


_LEAD = frozenset(
    "please pls kindly can could would will you also now then and so ok okay i we need want to help me us "
    "let lets let's just go ahead".split()
)
"""Words that may come before an imperative ("Can you please research …"); "my" or "the" may not: "My
presentation went fine" opens with a noun."""


def _clause_texts(text: MatchText) -> list[MatchText]:
    """The clauses of a several-part message, each to match on its own (none for a one-part message)."""
    return [MatchText(p) for p in clauses(text.normalized)]


def _opens(phrase: Phrase, part: MatchText) -> bool:
    """The English phrase is the text's imperative: its first content word(s), with nothing before them but
    the words of asking ("Research …", "Can you research …")."""
    if phrase.japanese or not part.content_at:
        return False
    first = part.every.get(phrase.tokens[0], ()) if phrase.idiom else part.positions.get(phrase.tokens[0], ())
    if not first or first[0] != (part.content_at[0] if phrase.idiom else 0):  # cheap: most phrases fail here
        return False
    spans = part.spans(phrase, first_only=True)
    if not spans or spans[0][0] != part.content_at[0]:
        return False
    surface = WORD.findall(part.normalized)
    # "We launched the app last week" tells what was done: a past tense is no imperative
    if (
        spans[0][0] < len(surface)
        and surface[spans[0][0]].endswith("ed")
        and not phrase.tokens[0].endswith("ed")
    ):
        return False
    return all(word in _LEAD for word in surface[: spans[0][0]])


_ASKED = re.compile(
    r"(?:を|も)?(?:お願い|頼む|頼みたい|して|やって|作って|書いて|組んで|まとめて|考えて|直して|調べて|用意して|準備して)"
)
"""What a Japanese trigger is followed by when it names the request itself: 「リサーチお願い」「スライドを作って」."""


_INTO = re.compile(
    r"\b(?:it|them|this|that|these|everything|results|findings) into (?:(?:a|an|some|few|short|quick|simple)\s)*$"
)
_MAKE = frozenset(
    "make create build draw up put together prepare give do set me us a an the my our quick short simple "
    "new rough proper".split()
)
"""An English clause that opens with making something: the trigger after these words is what it makes."""


def _asked_for(phrase: Phrase, part: MatchText) -> bool:
    """The trigger is directly asked for: in Japanese followed by a request (「ちょっとリサーチお願い」 is a
    request however casual the words around it); in English the object of the clause's opening verb of
    making ("Make a schedule for the offsite and write the invitation email")."""
    if not phrase.japanese:
        spans = part.spans(phrase, first_only=True)
        if not spans or not spans[0][0]:
            return False
        before = WORD.findall(part.normalized)[: spans[0][0]]
        # "…and put it into slides for our volunteer meeting": what a thing is turned into is asked for
        if _INTO.search(" ".join(before[-4:]) + " "):
            return True
        return before[0] in _MAKE - {"me", "us", "a", "an", "the", "my", "our"} and all(
            w in _MAKE or w in _LEAD for w in before
        )
    return any(_ASKED.match(part.normalized, end + 1) for _, end in part.spans(phrase))


def _imperatives(catalog: Catalog, skills: Sequence[Skill], text: MatchText) -> set[str]:
    """Keys of official skills one of whose triggers opens the text or one of its clauses."""
    if has_kana(text.normalized):
        return set()
    parts = [text, *_clause_texts(text)]
    # the stems a clause opens with: its first content word, or its first word for idioms ("look into")
    firsts = {t for part in parts for t, at in (*part.positions.items(), *part.every.items()) if at[0] == 0}
    found: set[str] = set()
    for skill in skills:
        if skill.source != "official":
            continue
        openers = catalog.matcher(skill.key).openers
        if any(_opens(p, part) for t in firsts for p in openers.get(t, ()) for part in parts):
            found.add(skill.label)
    return found


NEWS_TALK_FLOOR = 0.15
"""The weaker words of news (which already exclude asking and words of trouble) count when the intent model
reads the message as everyday talk first, or at least this much: "Our appointment page went live yesterday
and patients are already using it" reads 0.49 repo (its words are a repo request's) and 0.26 talk."""


def _is_news(catalog: Catalog, text: MatchText) -> bool:
    """Thanks or news asking for nothing; the weaker words of it (`may_be_news`) only when the intent model
    also reads everyday talk in the message (`NEWS_TALK_FLOOR`)."""
    if is_acknowledgement(text) or is_quick_question(text):
        return True
    if not may_be_news(text):
        return False
    classifier = catalog.classifier()
    reading = classifier.probabilities(text.normalized) if classifier is not None else {}
    talk = reading.get(NO_SKILL, 0.0)
    return bool(reading) and (max(reading, key=reading.__getitem__) == NO_SKILL or talk >= NEWS_TALK_FLOOR)


def _shape_opens(
    requests: dict[str, list[tuple[int, Request]]], skill_id: str, sources: list[tuple[MatchText, float, str]]
) -> bool:
    """The skill's request shape is Japanese (its verb ends the clause; no opening to test), or its action
    opens an English text or clause: the imperative of a request of its own."""
    for at, request in requests.get(skill_id, []):
        text = sources[at][0]
        if has_kana(text.normalized):
            return True
        action = Phrase(request.action)
        if any(_opens(action, part) for part in (text, *_clause_texts(text))):
            return True
    return False


PASSING_FLOOR = 0.2
"""Intent-model probability below which a skill named once, inside another skill's request, is not asked
for: "fork the Next.js *blog* starter", 「このネット*記事*の話、ファクトチェックして」."""
PASSING_OWNER = 0.5
"""…while it reads the word's clause as the top skill's request at least this much…"""
PASSING_LEAD = 0.3
"""…and leads this skill there by this much (a clause of a few words is read less sharply than a message)."""
PASSING_WHOLE_FLOOR = 0.1
PASSING_WHOLE_OWNER = 0.8
"""When the model gives the skill < 0.1 on the whole message and another skill >= 0.8, the whole message's
reading decides for the word's clause too: "What should I get done first this week? Tax return, unanswered
**emails**, car service…" is a plan, and its list of to-dos, read alone, is too mixed to say so."""


def _one_trigger_word(skill: Skill, score: float, reasons: list[str]) -> bool:
    """An official skill activated by one trigger word in the latest message and nothing else: the evidence
    the passing-word vetoes may take back."""
    return (
        skill.source == "official"
        and score >= ACTIVATION_THRESHOLD
        and len(reasons) == 1
        and reasons[0].startswith("trigger ")
        and "latest message" in reasons[0]
    )


def _passing_words(
    catalog: Catalog,
    classifier: Any,
    sources: list[tuple[MatchText, float, str]],
    skills: Sequence[Skill],
    lexical: list[tuple[float, list[str]]],
) -> dict[str, str]:
    """Skill key → why its word is not evidence, for official skills whose only evidence is one trigger word
    in the latest message, which the intent model does not read as theirs on the whole message (< 0.2), and
    whose clause it reads as something else (another skill's request or everyday talk: >= 0.5, 0.3 ahead
    of theirs). A word that opens an English clause is its imperative verb ("Research …, then draft …")
    and always a request."""
    if not sources or sources[0][2] != "latest message":
        return {}
    text = sources[0][0]
    candidates = [
        (skill, skill.label)
        for skill, (score, reasons) in zip(skills, lexical, strict=True)
        if _one_trigger_word(skill, score, reasons)
    ]
    if not candidates:
        return {}
    whole = classifier.probabilities(text.normalized)
    if not whole:
        return {}
    parts = _clause_texts(text) or [text]
    readings = [classifier.probabilities(p.normalized) for p in parts]
    found: dict[str, str] = {}
    talk = whole.get(NO_SKILL, 0.0)
    for skill, key in candidates:
        # the model reads the skill on the whole message, unless it reads everyday talk well ahead of it
        mine = whole.get(key, 1.0)
        if mine >= PASSING_FLOOR and not (talk >= PASSING_OWNER and talk - mine >= PASSING_LEAD):
            continue
        matcher = catalog.matcher(skill.key)
        phrases = [p for p, _, label in matcher.phrases if label == "trigger" and text.contains(p)]
        if not phrases:
            continue
        phrase = max(phrases, key=lambda p: len(p.text))
        for part, reading in zip(parts, readings, strict=True):
            if not part.contains(phrase):
                continue
            others = {k: v for k, v in (reading or whole).items() if k != key}
            if _opens(phrase, part) or _asked_for(phrase, part) or not others:
                break
            owner = max(others, key=others.__getitem__)
            top = max((k for k in whole if k != key), key=whole.__getitem__)
            if mine < PASSING_WHOLE_FLOOR and whole[top] >= PASSING_WHOLE_OWNER:
                # the message as a whole is plainly another request; a list item's word is its material
                owner, others, reading = top, whole, whole
            if others[owner] >= PASSING_OWNER and others[owner] - reading.get(key, 1.0) >= PASSING_LEAD:
                what = "everyday talk" if owner == NO_SKILL else f"a {owner.split(':', 1)[1]} request"
                found[key] = (
                    f"not evidence: the intent model reads the words around '{phrase.text}' as {what} "
                    f"({others[owner]:.2f}; {reading.get(key, 0.0):.2f} for this skill)"
                )
            break
    return found


_OWN_CODE = re.compile(
    r"\b(?:fix|fixes|fixing|debug|debugging|patch|repair)\b|\bcodebase\b"
    r"|\b(?:the|our|my|this|that|actual)\s+(?:\w+\s+)?(?:code|repo|repository)\b|直して|直す|修正|不具合|バグ|原因"
)
"""Words that make an investigation one of the user's own software: "investigate the code and fix it",
「落ちるようになった。調べて直して」 — the repo request's debugging, not a sourced brief."""
OWN_CODE_OWNER = 0.5
"""Probability the intent model must give repo-app-operator, as its top reading of the whole message."""
_RESEARCH, _REPO = "research-brief", "repo-app-operator"


def _near(part: MatchText, phrase: Phrase) -> str:
    """The words right around a trigger: five English words after it, six Japanese characters either side."""
    spans = part.spans(phrase, first_only=True)
    if not spans:
        return ""
    start, end = spans[0]
    if phrase.japanese:
        return part.normalized[max(0, start - 6) : end + 7]
    return " ".join(WORD.findall(part.normalized)[end + 1 : end + 6])


def _own_code(
    catalog: Catalog,
    classifier: Any,
    sources: list[tuple[MatchText, float, str]],
    skills: Sequence[Skill],
    lexical: list[tuple[float, list[str]]],
) -> dict[str, str]:
    """Research-brief's key → why, when its only evidence is one trigger in the latest message ("investigate",
    調べて), a clause holding it also names fixing or the user's code, and the intent model reads the whole
    message as a repo request first (>= 0.5): looking into one's own failing build is debugging. Research
    asked in a clause of its own ("Research X, then fix Y in our repo") keeps its word."""
    if not sources or sources[0][2] != "latest message":
        return {}
    text = sources[0][0]
    for skill, (score, reasons) in zip(skills, lexical, strict=True):
        if not (skill.id == _RESEARCH and _one_trigger_word(skill, score, reasons)):
            continue
        whole = classifier.probabilities(text.normalized)
        repo = f"official:{_REPO}"
        if not whole or whole.get(repo, 0.0) < OWN_CODE_OWNER:
            return {}
        first = max(whole, key=whole.__getitem__) == repo
        phrases = [p for p, _, label in catalog.matcher(skill.key).phrases if label == "trigger"]
        for part in _clause_texts(text) or [text]:
            held = [p for p in phrases if part.contains(p)]
            # the clause names the user's code, and the model reads a repo request first; or the words right
            # by the trigger do ("investigate in the actual codebase", 「原因を調べて直して」)
            if held and _OWN_CODE.search(part.normalized if first else _near(part, held[0])):
                return {
                    skill.label: f"not evidence: '{held[0].text}' looks into the user's own software "
                    f"(the intent model reads a repo request, {whole[repo]:.2f})"
                }
        return {}
    return {}


def _clause_requests(
    catalog: Catalog,
    classifier: Any,
    text: MatchText,
    skills: Sequence[Skill],
    scored: Sequence[tuple[float, Skill, list[str]]],
    bar: float,
) -> set[str]:
    """Keys of official skills below the relative bar whose trigger sits in a clause of the latest message
    that the intent model reads as that skill's request (>= 0.5, 0.3 ahead of everything else, everyday talk
    included): the mirror of the passing-word veto. "Break down the launch into milestones, and then make
    me a presentation of that roadmap": the second clause is a slides request of its own, not a passing word
    beside the plan."""
    below = [
        skill
        for score, skill, _ in scored
        if skill.source == "official" and ACTIVATION_THRESHOLD <= score < bar
    ]
    if not below:
        return set()
    parts = _clause_texts(text)
    found: set[str] = set()
    for skill in below:
        key = skill.label
        phrases = [p for p, _, label in catalog.matcher(skill.key).phrases if label == "trigger"]
        for part in parts:
            if not any(part.contains(p) for p in phrases):
                continue
            reading = classifier.probabilities(part.normalized)
            mine = reading.pop(key, 0.0)
            if mine >= PASSING_OWNER and mine - max(reading.values(), default=0.0) >= PASSING_LEAD:
                found.add(key)
                break
    return found


def select_skills(
    catalog: Catalog,
    selection_input: SelectionInput,
    *,
    budget_tokens: int = 2500,
    per_skill_max_tokens: int = 1800,
    max_active: int = 3,
    listing_budget_tokens: int | None = 1200,
    embedder_similarity: SimilarityFn | None = None,
    count_tokens: Callable[[str], int] | None = None,
) -> Selection:
    """Ranks the catalog for this conversation and fits activated skills into `budget_tokens`.

    `listing_budget_tokens=None` lists every available skill; otherwise the listing is cut in rank order and
    `unlisted_count` says how many were left out (each with a decision that says so).
    """
    count = count_tokens or approx_tokens
    inp = selection_input
    skills = catalog.skills(inp.locale)
    # Thanks and news of work done ask for nothing: their words are evidence of no request, unless a
    # trigger opens a clause ("Draft the reply to Sam. Thanks!").
    sources = [
        source
        for source in inp.sources()
        if not (_is_news(catalog, source[0]) and not _imperatives(catalog, skills, source[0]))
    ]
    agent_categories = AGENT_TYPE_CATEGORIES.get((inp.agent_type or "").lower(), ())

    requests = _requests(skills, sources)
    ja_topics = _japanese_topics(catalog, skills, sources)
    lexical: list[tuple[float, list[str]]] = []
    for skill in skills:
        topics = _topics(skill.id, requests, len(sources)) if requests else []
        about = [[t for t in ts if t[0] != skill.id] for ts in ja_topics] if any(ja_topics) else []
        score, reasons = _score(catalog.matcher(skill.key), sources, topics, about) if sources else (0.0, [])
        if score < INTENT_WEIGHT and skill.source == "official":
            score, reasons = _intent(skill.id, requests, sources, score, reasons)
        lexical.append((score, reasons))
    # A request shape stands in for a missing trigger, like the intent model: beside a skill that trigger
    # words decided, it is a second request only when the model reads one (>= 0.9, below) or when its
    # action is an English clause's imperative ("Write up a welcome message …, and then put together a
    # schedule"), not by itself ("We're *launch*ing a mobile *app* in Q2. Break the work down into phases").
    worded = any(
        score >= ACTIVATION_THRESHOLD and not any(r.startswith(SHAPE_NOTE) for r in reasons)
        for score, reasons in lexical
    )
    if worded:
        lexical = [
            (0.0, [*reasons[:-1], f"not evidence beside words that decided: {reasons[-1]}"])
            if reasons
            and reasons[-1].startswith(SHAPE_NOTE)
            and not _shape_opens(requests, skill.id, sources)
            else (score, reasons)
            for skill, (score, reasons) in zip(skills, lexical, strict=True)
        ]
    # The softer signals stand in for missing words; once words decided, only a confident intent model may
    # add a second skill (a two-part request whose second part is a paraphrase).
    classifier = catalog.classifier() if sources else None
    own_code: dict[str, str] = {}
    if classifier is not None:
        classifier = classifier.for_one_selection()
        # One trigger word the intent model reads as part of something else is no request of its skill:
        # "fork the Next.js *blog* starter", 「昨日の*プレゼン*、何とか終わった」.
        passing = _passing_words(catalog, classifier, sources, skills, lexical)
        own_code = _own_code(catalog, classifier, sources, skills, lexical)
        passing.update(own_code)
        lexical = [
            (0.0, [*reasons, passing[skill.label]]) if skill.label in passing else (score, reasons)
            for skill, (score, reasons) in zip(skills, lexical, strict=True)
        ]
    stand_in: dict[str, tuple[float, str]] = {}
    own_request: set[str] = set()
    decided = max((s for s, _ in lexical), default=0.0) >= ACTIVATION_THRESHOLD
    if classifier is not None:
        votes = None
        if embedder_similarity is not None and not decided:
            votes = neighbour_votes(embedder_similarity, sources[0][0].normalized, skills)
        shaped = decided and all(
            score < ACTIVATION_THRESHOLD or any(r.startswith(SHAPE_NOTE) for r in reasons)
            for score, reasons in lexical
        )
        stand_in = classified(
            classifier, sources, decided=decided, votes=votes, in_clause=own_request, shaped=shaped
        )
        # the model reads the debugging's words as research too; it is no second opinion on them
        for key in own_code:
            stand_in.pop(key, None)
    if sources and not decided and not stand_in:
        # skills with a few examples only (custom ones); the intent model knows the rest
        trained = set(classifier.classes) if classifier is not None else set()
        stand_in = nearest_examples(catalog.example_model(), sources, trained)
        if embedder_similarity is not None and not stand_in:
            stand_in = nearest_by_meaning(embedder_similarity, inp.query_text(), skills)

    scored: list[tuple[float, Skill, list[str]]] = []
    for skill, (score, reasons) in zip(skills, lexical, strict=True):
        extra = stand_in.get(skill.label)
        # Words showed what this skill's vocabulary is doing here (the topic of another request); the
        # intent model, which reads the same words, is no second opinion on that.
        if extra is not None and decided and any(TOPIC_NOTE in r for r in reasons):
            extra = None
        if extra is not None and extra[0] > score:
            score, reasons = extra[0], [*reasons, extra[1]]
        agent_type = (inp.agent_type or "").lower()
        if agent_type and (
            skill.category in agent_categories or agent_type in (skill.category, *skill.activation_tags)
        ):
            score += AGENT_TYPE_WEIGHT
            reasons.append(
                f"agent type '{inp.agent_type}' fits category '{skill.category}' (+{AGENT_TYPE_WEIGHT:.1f})"
            )
        scored.append((round(score, 3), skill, reasons))
    scored.sort(key=lambda item: (-item[0], -item[1].priority, item[1].id, item[1].source))

    top = max((s for s, skill, _ in scored if skill.availability.status != "unavailable"), default=0.0)
    bar = max(ACTIVATION_THRESHOLD, top * RELATIVE_THRESHOLD)
    # Once words decided, a second request the intent model reads at >= 0.9 in one clause of the message
    # is a request of its own, not a passing word, so the relative bar does not apply to it.
    own_request = {key for key in own_request if key in stand_in} if decided else set()
    # So is a trigger that opens an English clause: its imperative ("Research …, and draft a blog post …").
    if decided and sources and sources[0][2] == "latest message":
        own_request |= _imperatives(catalog, skills, sources[0][0])
        # …and a trigger in a clause the intent model reads as its skill's request.
        if classifier is not None:
            own_request |= _clause_requests(catalog, classifier, sources[0][0], skills, scored, bar)
    result = Selection(locale=inp.locale, locale_source=inp.locale_source, budget_tokens=budget_tokens)
    statuses: list[tuple[DecisionStatus, int | None]] = []
    listing_used = 0
    listing_full = False
    for score, skill, reasons in scored:
        tokens: int | None = None
        if skill.availability.status == "unavailable":
            reasons.append("unavailable: " + "; ".join(skill.availability.reasons))
            statuses.append(("unavailable", None))
            continue
        key = skill.label
        if score >= bar or (key in own_request and score >= ACTIVATION_THRESHOLD):
            tokens = count(render_skill_block(skill))
            if len(result.activated) >= max_active:
                reasons.append(f"not activated: already {max_active} active skills")
            elif tokens > per_skill_max_tokens:
                reasons.append(
                    f"not activated: {tokens} tokens exceeds the per-skill limit {per_skill_max_tokens}"
                )
            elif result.used_tokens + tokens > budget_tokens:
                reasons.append(
                    f"not activated: {tokens} tokens would exceed the budget "
                    f"({result.used_tokens}/{budget_tokens} used)"
                )
            else:
                result.activated.append(skill)
                result.used_tokens += tokens
                statuses.append(("activated", tokens))
                continue
        elif score > 0:
            reasons.append(f"below the activation bar ({score:.1f} < {bar:.1f})")
        # Everything else is listed in rank order until the listing budget is full; never squeezed in later.
        if not listing_full and listing_budget_tokens is not None:
            line_tokens = count(render_listing_line(skill))
            listing_full = listing_used + line_tokens > listing_budget_tokens
            listing_used += 0 if listing_full else line_tokens
        if listing_full:
            reasons.append("not listed: listing budget full; reachable with skill_list / skill_catalog")
            result.unlisted_count += 1
            statuses.append(("unlisted", tokens))
        else:
            result.listed.append(skill)
            statuses.append(("listed", tokens))
    result.decisions = [
        SkillDecision.model_construct(
            id=skill.id,
            source=skill.source,
            name=skill.name,
            status=status,
            score=score,
            tokens=tokens,
            reasons=reasons,
        )
        for (score, skill, reasons), (status, tokens) in zip(scored, statuses, strict=True)
    ]
    return result


def make_embedding_similarity(embed: Callable[[list[str]], Any]) -> SimilarityFn:
    """Adapts an `embed(texts) -> vectors` function (e.g. the memory package's embedder) to selection:
    nearest-skill cosines and neighbour votes (`skills._meaning`), each text embedded once per process."""
    return EmbeddingSimilarity(embed)
