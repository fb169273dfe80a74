"""Deterministic extraction: what can be pulled out of text without a language model.

Named entities are runs of capitalised words, minus sentence-initial function words and greetings; URLs,
file paths and dates are matched by pattern. Precision beats recall here: every entity becomes a graph node.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_URL = re.compile(r"https?://[^\s<>\"')\]]+")
_PATH = re.compile(r"(?<![\w/:.])(?:~|\.{1,2})?/?(?:[\w.-]+/)+[\w.-]+\.[A-Za-z0-9]{1,8}\b")
_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
_DATE = re.compile(
    rf"\b(?:\d{{4}}-\d{{2}}-\d{{2}}|\d{{1,2}} (?:{_MONTHS}),? \d{{4}}|(?:{_MONTHS}) \d{{1,2}}(?:st|nd|rd|th)?,? \d{{4}})\b"
)
_NAME = re.compile(r"\b[A-Z][\w'’-]*(?:\s+(?:of\s+|the\s+|de\s+)?[A-Z][\w'’-]*)*")
_NOT_NAMES = frozenset(
    """i i'm i've i'd i'll im a an the this that these those it it's its he she we they you your my our their his
    her hey hi hello hmm oh ok okay yes yeah yep no nope thanks thank wow sure well so and but or if when what
    where who why how which while also just then there here great awesome cool nice good congrats congratulations
    sorry please glad love lol haha omg btw by for from in on at to of with as not do does did is are was were be
    have has had can could will would should let let's what's that's there's here's it'd wish happy bye yay
    monday tuesday wednesday thursday friday saturday sunday today tomorrow yesterday see check maybe sounds
    looks went got been really definitely totally absolutely anyway actually probably nothing everything
    something anything after before since because last next one two same ah aw aww ooh true exactly right""".split()
)


@dataclass
class Extraction:
    entities: list[tuple[str, str]] = field(default_factory=list)  # (name, type)

    def add(self, name: str, kind: str) -> None:
        name = name.strip().strip(".,;:!?")
        if len(name) >= 2 and (name, kind) not in self.entities:
            self.entities.append((name, kind))


def names(text: str) -> list[str]:
    out: list[str] = []
    for match in _NAME.finditer(_URL.sub(" ", text)):
        words = match.group(0).split()
        while words and words[0].lower().strip("'’") in _NOT_NAMES:
            words = words[1:]
        while words and words[-1].lower() in ("of", "the", "de"):
            words = words[:-1]
        if not words:
            continue
        candidate = " ".join(words)
        if len(candidate) > 1 and candidate.lower() not in _NOT_NAMES:
            out.append(candidate)
    return list(dict.fromkeys(out))


def extract(text: str, *, speaker: str | None = None, tool: str | None = None) -> Extraction:
    found = Extraction()
    if speaker:
        found.add(speaker, "person")
    if tool:
        found.add(tool, "tool")
    for url in _URL.findall(text):
        found.add(url.rstrip(".,"), "url")
    for path in _PATH.findall(_URL.sub(" ", text)):
        found.add(path, "path")
    for date in _DATE.findall(text):
        found.add(date, "date")
    dates = {d.lower() for d, _ in found.entities}
    for name in names(text):
        if not any(name.lower() in d for d in dates):
            found.add(name, "entity")
    return found
