from __future__ import annotations

import pytest

from agent.models.types import Message, TextPart, ToolDefinition, ToolResultPart, ToolUsePart
from agent.prompt import (
    MESSAGE_OVERHEAD,
    SECTIONS,
    SYSTEM_CORE,
    BuiltPrompt,
    PromptInputs,
    SectionBudgets,
    build_prompt,
    message_tokens,
    split_turns,
)
from agent.tokenizer import HeuristicTokenizer
from skills import SelectionInput, load_official_catalog, merge_catalog, select_skills

TOK = HeuristicTokenizer()


@pytest.fixture(scope="module")
def official():
    return load_official_catalog()


def turn(i: int, words: int = 10) -> list[Message]:
    return [
        Message.text("user", f"question {i} " + "word " * words),
        Message(
            role="assistant",
            parts=[
                TextPart(text="checking"),
                ToolUsePart(id=f"t{i}", name="search", arguments={"q": f"q{i}"}),
            ],
        ),
        Message(role="tool", parts=[ToolResultPart(tool_use_id=f"t{i}", content="result " * words)]),
        Message.text("assistant", f"answer {i} " + "word " * words),
    ]


def check_ledger(built: BuiltPrompt) -> None:
    assert set(built.ledger) == set(SECTIONS)
    assert sum(built.ledger.values()) == built.total_tokens
    measured = sum(message_tokens(m, TOK) + MESSAGE_OVERHEAD for m in built.messages)
    assert measured == built.total_tokens


def full_inputs(official, **overrides) -> PromptInputs:
    catalog = merge_catalog(official, [])
    selection = select_skills(
        catalog, SelectionInput(user_messages=["make slides about the roadmap"], locale="en")
    )
    values = dict(
        tools=[ToolDefinition(name="skill_get"), ToolDefinition(name="semantic_search_memory")],
        agent_type="research",
        remaining_s=100.0,
        total_s=300.0,
        activated_skills=selection.activated,
        skill_listing=selection.listed,
        memory_hits=[
            {
                "id": "ep-1",
                "text": "User prefers bullet points.",
                "kind": "fact",
                "occurredAt": "2026-02-01T09:00:00Z",
            }
        ],
        history=[m for i in range(3) for m in turn(i)],
        user_message="make slides about the roadmap",
        context_window=32_000,
    )
    values.update(overrides)
    return PromptInputs(**values)


def test_every_section_is_rendered_and_the_ledger_sums(official):
    built = build_prompt(full_inputs(official), TOK)
    check_ledger(built)
    system = built.messages[0]
    assert system.role == "system" and built.messages[-1].role == "user"
    assert built.messages[-1].text_content == "make slides about the roadmap"
    text = system.text_content
    for marker in (
        "## Tool use",
        "skill_get",
        "Mode: research",
        "## Time budget",
        "### Skill: Slides author",
        "## Other available skills",
        "`research-brief`",
        "## Memory",
        "[fact, 2026-02-01, ep-1]",
    ):
        assert marker in text
    assert all(built.ledger[s] > 0 for s in SECTIONS if s not in ("history",)) and built.ledger["history"] > 0
    assert len(built.messages) == 1 + 12 + 1


def test_system_prompt_from_the_control_plane_replaces_the_core(official):
    built = build_prompt(full_inputs(official, system_prompt="You are Acme's helper."), TOK)
    assert built.messages[0].text_content.startswith("You are Acme's helper.")
    assert SYSTEM_CORE[:30] not in built.messages[0].text_content
    assert built.ledger["system_core"] == TOK.count("You are Acme's helper.")


def test_minimal_prompt_has_zero_sections_but_still_sums():
    built = build_prompt(PromptInputs(user_message="hi"), TOK)
    check_ledger(built)
    assert built.ledger["time_budget"] == built.ledger["skills_active"] == built.ledger["memory"] == 0
    assert built.ledger["tool_rules"] == built.ledger["skills_listing"] == built.ledger["history"] == 0
    assert [m.role for m in built.messages] == ["system", "user"]


def test_time_budget_reminder_and_wrap_up():
    early = (
        build_prompt(PromptInputs(user_message="x", remaining_s=250, total_s=300), TOK)
        .messages[0]
        .text_content
    )
    assert "4m 10s remaining of 5m 00s (17% used)" in early and "Wrap up" not in early
    late = (
        build_prompt(PromptInputs(user_message="x", remaining_s=50, total_s=300), TOK)
        .messages[0]
        .text_content
    )
    assert "(83% used)" in late and "Wrap up now" in late
    spent = (
        build_prompt(PromptInputs(user_message="x", remaining_s=-5, total_s=300), TOK)
        .messages[0]
        .text_content
    )
    assert "0s remaining" in spent and "Wrap up now" in spent
    open_ended = build_prompt(PromptInputs(user_message="x", remaining_s=42), TOK).messages[0].text_content
    assert "42s remaining." in open_ended


def test_a_reminder_from_the_loop_replaces_the_computed_text():
    inputs = PromptInputs(
        user_message="x", remaining_s=10, total_s=300, reminder="Tool cap reached. Answer now."
    )
    built = build_prompt(inputs, TOK)
    text = built.messages[0].text_content
    assert "## Time budget\nTool cap reached. Answer now." in text and "remaining" not in text
    assert built.ledger["time_budget"] == TOK.count("## Time budget\nTool cap reached. Answer now.")


def test_history_keeps_whole_newest_turns_and_says_what_was_left_out():
    history = [m for i in range(40) for m in turn(i, words=50)]
    budgets = SectionBudgets(history=600)
    built = build_prompt(PromptInputs(history=history, user_message="next", budgets=budgets), TOK)
    check_ledger(built)
    kept = built.messages[1:-1]
    assert kept[0].role == "user" and kept[-1].role == "assistant"
    assert len(kept) % 4 == 0 and kept[-1].text_content.startswith("answer 39")
    dropped = built.omitted["history_turns"]
    assert dropped == 40 - len(kept) // 4 and dropped > 0
    assert f"{dropped} earlier turns of this conversation were left out" in built.messages[0].text_content
    assert built.ledger["history"] <= 600
    uses = {p.id for m in kept for p in m.tool_uses}
    results = {p.tool_use_id for m in kept for p in m.parts if isinstance(p, ToolResultPart)}
    assert uses == results  # a tool call never loses its result


def test_split_turns():
    history = [Message.text("assistant", "welcome"), *turn(0), *turn(1)]
    assert [len(t) for t in split_turns(history)] == [1, 4, 4]


def test_total_stays_within_the_window(official):
    history = [m for i in range(200) for m in turn(i, words=80)]
    for window in (4_000, 16_000, 128_000):
        built = build_prompt(full_inputs(official, history=history, context_window=window), TOK)
        check_ledger(built)
        assert built.total_tokens <= built.budgets["usable"]
        for section in (
            "system_core",
            "tool_rules",
            "agent_mode",
            "time_budget",
            "skills_active",
            "skills_listing",
            "memory",
            "user_message",
        ):
            assert built.ledger[section] <= built.budgets[section], (window, section)


def test_two_hundred_custom_skills_listing_is_budgeted_and_says_how_many_more(official):
    records = [
        {"id": f"custom-{i:03d}", "name": f"custom-{i:03d}", "description": f"Procedure {i} " * 8}
        for i in range(200)
    ]
    catalog = merge_catalog(official, records)
    selection = select_skills(
        catalog, SelectionInput(user_messages=["make slides"], locale="en"), listing_budget_tokens=None
    )
    assert len(selection.listed) == 204
    built = build_prompt(
        PromptInputs(
            activated_skills=selection.activated,
            skill_listing=selection.listed,
            user_message="make slides",
            budgets=SectionBudgets(skills_listing=500),
        ),
        TOK,
    )
    check_ledger(built)
    assert built.ledger["skills_listing"] <= 500
    text = built.messages[0].text_content
    shown = text.count("\n- `custom-") + text.count("\n- `research-brief`")
    more = built.omitted["skills_listing"]
    assert shown + more >= 201 and more > 100
    assert f"…and {more} more available skills not shown here (204 in all)" in text
    assert "skill_list" in text and "skill_catalog" in text


def test_upstream_unlisted_skills_are_counted_in_the_listing_note(official):
    catalog = merge_catalog(official, [])
    listing = catalog.skills("en")[:2]
    built = build_prompt(PromptInputs(skill_listing=listing, skills_not_listed=7, user_message="x"), TOK)
    assert "…and 7 more available skills not shown here (9 in all)" in built.messages[0].text_content
    only_hidden = (
        build_prompt(PromptInputs(skills_not_listed=1, user_message="x"), TOK).messages[0].text_content
    )
    assert "…and 1 more available skill not shown here" in only_hidden


def test_activated_skill_that_does_not_fit_is_named_not_cut(official):
    catalog = merge_catalog(official, [])
    skills = [catalog.variant(("official", i), "en") for i in ("slides-author", "research-brief")]
    built = build_prompt(
        PromptInputs(activated_skills=skills, user_message="x", budgets=SectionBudgets(skills_active=900)),
        TOK,
    )
    check_ledger(built)
    text = built.messages[0].text_content
    assert "### Skill: Slides author" in text and "### Skill: Research brief" not in text
    assert "`research-brief`: selected but left out for space" in text
    assert built.omitted["skills_active"] == ["research-brief"]
    assert built.ledger["skills_active"] <= 900


def test_memory_hits_accept_dicts_and_models_and_are_budgeted():
    from pydantic import BaseModel, Field

    class Hit(BaseModel):
        id: str
        text: str
        kind: str = "episode"
        occurred_at: str = Field(default="2026-03-04T00:00:00Z", alias="occurredAt")

    hits = [Hit(id=f"h{i}", text="Long remembered detail. " * 40) for i in range(30)]
    hits.insert(0, {"id": "d1", "text": "from a dict", "kind": "fact", "occurredAt": "2026-01-01"})
    built = build_prompt(
        PromptInputs(memory_hits=hits, user_message="x", budgets=SectionBudgets(memory=400)), TOK
    )
    check_ledger(built)
    text = built.messages[0].text_content
    assert "- [fact, 2026-01-01, d1] from a dict" in text and "[episode, 2026-03-04, h0]" in text
    assert built.ledger["memory"] <= 400
    assert f"…{built.omitted['memory']} more memory hits not shown; use semantic_search_memory" in text


def test_oversized_user_message_and_system_prompt_are_marked_not_silently_cut():
    built = build_prompt(
        PromptInputs(system_prompt="rule. " * 5000, user_message="data " * 50_000, context_window=20_000), TOK
    )
    check_ledger(built)
    assert built.messages[-1].text_content.endswith("[… user message shortened to fit its token budget …]")
    assert "[… system prompt shortened" in built.messages[0].text_content
    assert built.omitted["user_message"] == built.omitted["system_core"] == "truncated"
    assert built.total_tokens <= built.budgets["usable"]


def test_japanese_locale_adds_the_reply_language_and_unknown_agent_types_get_a_generic_mode():
    text = build_prompt(PromptInputs(locale="ja", agent_type="translator", user_message="x"), TOK).messages[0]
    assert "reply in Japanese" in text.text_content and "Mode: translator." in text.text_content


def test_default_tokenizer_is_used_when_none_is_given():
    built = build_prompt(PromptInputs(user_message="hello"))
    assert built.ledger["user_message"] == 1


def test_memory_package_hits_render_with_their_date():
    memory = pytest.importorskip("memory")
    from datetime import UTC, datetime

    hit = memory.SearchHit(
        id="ep-9",
        type="episode",
        kind="user_message",
        text="Deploy on Fridays is banned.",
        score=0.8,
        occurred_at=datetime(2026, 5, 6, tzinfo=UTC),
    )
    built = build_prompt(PromptInputs(memory_hits=[hit], user_message="x"), TOK)
    assert "- [user_message, 2026-05-06, ep-9] Deploy on Fridays is banned." in built.messages[0].text_content
