"""Request shapes: evidence for a skill when a prompt carries no trigger word.

A request is an action applied to a deliverable ("put together a short *brief*", "look up recent *studies*",
"*bootstrap* a web *app* from a template", "来週の役員会で見せる*資料*を作って"). One cue alone is ordinary
vocabulary ("a note", "find"), so a skill gains evidence only when an action cue and a deliverable cue of that
same skill occur in one message. Cues are phrases of the official skills' own domain, in English and
Japanese; custom skills keep their triggers and description keywords.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from skills._text import MatchText, Phrase, has_kana

INTENT_WEIGHT = 2.75
"""Above the activation bar on its own (a clear request), below a trigger (3.0): an explicit trigger in the
same conversation still outranks it."""

_CUES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "research-brief": (
        (
            "find out",
            "look up",
            "gather",
            "summarise",
            "summarize",
            "what do",
            "what does",
            "tell me what",
            "check what",
            "dig up",
            "put together",
            "compile",
            "brief me",
            "catch me up",
            "explain what",
            "調べ",
            "まとめ",
            "教えて",
            "確認して",
        ),
        (
            "evidence",
            "studies",
            "study",
            "sources",
            "source",
            "facts",
            "fact",
            "findings",
            "brief",
            "briefing",
            "experts",
            "expert",
            "what changed",
            "latest",
            "state of",
            "pros and cons",
            "for and against",
            "guidance",
            "guidelines",
            "regulations",
            "requirements",
            "研究",
            "出典",
            "ブリーフ",
            "動向",
            "根拠",
            "文献",
        ),
    ),
    "repo-app-operator": (
        (
            "bootstrap",
            "scaffold",
            "fork",
            "clone",
            "spin up",
            "set up",
            "get it running",
            "ship",
            "push",
            "install",
            "fix whatever",
            "run the",
            "launch",
            "host",
            "立ち上げ",
            "動く",
            "構築",
            "デプロイ",
        ),
        (
            "web app",
            "app",
            "service",
            "template",
            "starter",
            "branch",
            "production",
            "staging",
            "build",
            "dependencies",
            "hotfix",
            "server",
            "ウェブアプリ",
            "アプリ",
            "テンプレート",
            "サーバー",
        ),
    ),
    "slides-author": (
        ("present", "show", "walk through", "walkthrough", "pitch", "見せる", "発表", "説明する"),
        (
            "board",
            "pages",
            "visual",
            "all-hands",
            "all hands",
            "audience",
            "meeting",
            "slides",
            "資料",
            "枚",
            "役員会",
            "会議",
        ),
    ),
    "writing-draft": (
        (
            "write up",
            "compose",
            "word",
            "phrase",
            "write",
            "reply to",
            "respond to",
            "書いて",
            "書く",
            "作成して",
            "返信",
        ),
        (
            "note",
            "message",
            "complaint",
            "toast",
            "thank-you",
            "thank you",
            "invitation",
            "apology",
            "speech",
            "letter",
            "メッセージ",
            "手紙",
            "お礼",
            "挨拶",
            "文章",
            "お詫び",
        ),
    ),
    "planning-structurer": (
        (
            "lay out",
            "map out",
            "organise",
            "organize",
            "sort out",
            "steps to",
            "what needs to happen",
            "work out",
            "split",
            "整理",
            "段取り",
        ),
        (
            "week by week",
            "steps",
            "my week",
            "next month",
            "before the",
            "by friday",
            "deadline",
            "phases",
            "stages",
            "weeks",
            "months",
            "each week",
            "each day",
            "やること",
            "週ごと",
            "スケジュール",
            "までに",
        ),
    ),
}

_COMPILED = {
    skill: (tuple(Phrase(a) for a in actions), tuple(Phrase(d) for d in deliverables))
    for skill, (actions, deliverables) in _CUES.items()
}


def action_cues(skill_id: str) -> tuple[Phrase, ...]:
    """The action cues of an official skill's request shape (none for other skills)."""
    return _COMPILED.get(skill_id, ((), ()))[0]


class Request(NamedTuple):
    action: str
    deliverable: str
    span: tuple[int, int] | None
    """English word positions from the action to the deliverable, when the action comes first: the words in
    between are what the request is about ("present [our hiring plan] to the leadership meeting")."""


def intent_evidence(skill_id: str, text: MatchText) -> Request | None:
    """The action and deliverable of this skill found in the text, or None."""
    cues = _COMPILED.get(skill_id)
    if cues is None:
        return None
    actions, deliverables = cues
    action = next((a for a in actions if text.contains(a)), None)
    if action is None:
        return None
    deliverable = next((d for d in deliverables if text.contains(d) and not d.within(action)), None)
    if deliverable is None:
        return None
    span = None
    if not action.japanese and not deliverable.japanese:
        start = text.spans(action)[0][0]
        end = max(e for _, e in text.spans(deliverable))
        span = (start, end) if end > start else None
    return Request(action.text, deliverable.text, span)


_WENT_WELL_EN = (
    r"\b(went (down )?(really |so |very |super )?(great|well|fine|brilliantly|smoothly|perfectly)"
    r"|worked (perfectly|great|well|a treat)|paid off)\b"
)
_THANKS_EN = re.compile(r"^\W*(thanks|thank you|thx|cheers)\b|" + _WENT_WELL_EN)
_NEWS_EN = re.compile(
    r"(?:^|[.!,]\s+)(thanks|thank you|thx|cheers)( again| so much| a lot| a ton| heaps| loads)?\W*$|\bwent out\b"
    r"|\bwanted to (say (thanks|thank you)|share)\b|\bneeded to (vent|say that|tell someone)\b|\bin the end\b"
    r"|\b(got|was|were) (accepted|approved|funded)\b"
    r"|\b(finally|just|already) (shipped|merged|deployed|sent|finished|submitted|released|launched)\b"
    r"|\b(we|i|we've|i've|we have|i have) (finally |just |already )?(shipped|merged|deployed|launched|released"
    r"|published|submitted|finished|presented)\b|\b(went|is|are|it's) live\b"
    r"|\bfinally got (?:\w+ ){1,4}(deployed|working|running|merged|shipped|live)\b"
    r"|\b(no need|never mind|nevermind|don't worry about|no longer need)\b|" + _WENT_WELL_EN
)
"""Weaker than `_THANKS_EN`: thanks after other words, work just done, help no longer needed. "No need for
slides, write a summary instead" is a request, so selection also asks the intent model to read these as
everyday talk."""
_ASKS_EN = re.compile(
    r"\?|\b(please|can you|could you|would you|will you|now|next|also|help (?:me|us)|(?<!no )need|want"
    r"|let's|lets)\b"
)
_THANKS_JA = re.compile(r"ありがと|助かり|助かった|うまくいった|上手くいった|できました|使わせてもら")
_ASKS_JA = re.compile(r"[?？]|ください|ほしい|欲しい|お願い|て。|て$|して|たい")
_DONE_JA = re.compile(
    r"(?:た|たよ|たね|たわ|ました|でした|ったー?|てくれた|ちゃった|ですよね|だよね|ますよね|よね)[。！!〜ー…\s]*$"
)
"""A Japanese message that ends in the past tense tells what happened (「旅行の計画、家族で決めたよ」), or one
that ends in よね muses (「ブログ、毎日書くのって大変ですよね」)…"""
_TROUBLE_JA = re.compile(
    r"でき(?:ない|なく|ません)|エラー|落ち|動かな|動かなく|おかし|壊れ|消え|届かな|通らな|遅く|ずれ|出な"
)
"""…unless what happened is a problem: 「昨日からログインできなくなった」 reports a fault to fix."""
_TROUBLE_EN = re.compile(
    r"\b(?<!no )(?<!zero )(?<!without )(?:broke|broken|breaks|error|errors|fail|fails|failed|failing|crash"
    r"|crashes|crashed|down|stopped|stuck|bug|bugs|wrong|can't|cannot|won't|doesn't|isn't|not working|missing"
    r"|slow)\b"
)
"""…and in English: "The site went live yesterday and checkout is broken" reports a fault, not news ("no
crashes so far" reports none)."""
NEWS_MAX_CHARS_JA = 40
ACKNOWLEDGEMENT_MAX_WORDS = 14
NEWS_MAX_WORDS = 20


def is_acknowledgement(text: MatchText) -> bool:
    """Thanks or news of something done, asking for nothing ("Thanks, the plan worked perfectly!",
    "今日のプレゼンうまくいったよ！"): a skill's word in it is about the past, not a request. (Selection also
    asks that no skill's trigger opens a clause: "Thanks. Draft the reply to Sam" is a request.)"""
    norm = text.normalized.strip()
    if has_kana(norm):
        return bool(_THANKS_JA.search(norm)) and not _ASKS_JA.search(norm)
    short = len(norm.split()) <= ACKNOWLEDGEMENT_MAX_WORDS
    return short and bool(_THANKS_EN.search(norm)) and not _ASKS_EN.search(norm)


_QUICK_EN = re.compile(
    r"^\W*(?:what year|when (?:did|was|is|were)|who (?:invented|wrote|painted|discovered|won|was|is|sang)"
    r"|how many|what(?:'s| is) the (?:capital|population|boiling|speed|height|plural|opposite)"
    r"|how (?:tall|far|old|long|big|deep) (?:is|was|are)|what does \S+(?: \S+)? stand for|where is)\b"
)
_QUICK_JA = re.compile(
    r"(?:何語|何年|何歳|何メートル|首都|誰が[^。]{0,15}(?:した|作った|書いた)|って何|とは)(?:なの|なん|です)?(?:か|の)?[?？]$"
)
_EVIDENCE = re.compile(
    r"\b(?:sources?|evidence|studies|study|cite|citing|references?|check|true|really|compare|vs|versus)\b"
    r"|出典|根拠|調べ|比べ|比較|本当|ほんと|確か"
)
QUICK_MAX_WORDS = 12
QUICK_MAX_CHARS_JA = 40


def is_quick_question(text: MatchText) -> bool:
    """A question of fact answered from memory ("What year did the Berlin Wall come down?", 「アジェンダって
    もともと何語なの？」): short, and asking for no sources, no check and no comparison, so no skill's work."""
    norm = text.normalized.strip()
    if _EVIDENCE.search(norm):
        return False
    if has_kana(norm):
        return len(norm) <= QUICK_MAX_CHARS_JA and bool(_QUICK_JA.search(norm))
    return len(norm.split()) <= QUICK_MAX_WORDS and bool(_QUICK_EN.search(norm)) and norm.endswith("?")


def may_be_news(text: MatchText) -> bool:
    """English words of work done or help no longer needed, asking for nothing ("Great, the email went out.
    Thanks!", "Finally shipped the release", "so no need to help with that anymore"): news, if the intent
    model also reads it as everyday talk."""
    norm = text.normalized.strip()
    if has_kana(norm):
        return (
            len(norm) <= NEWS_MAX_CHARS_JA
            and bool(_DONE_JA.search(norm))
            and not _ASKS_JA.search(norm)
            and not _TROUBLE_JA.search(norm)
        )
    if len(norm.split()) > NEWS_MAX_WORDS:
        return False
    return bool(_NEWS_EN.search(norm)) and not _ASKS_EN.search(norm) and not _TROUBLE_EN.search(norm)
