from __future__ import annotations

import json
from pathlib import Path

import pytest

from skills import (
    SelectionInput,
    approx_tokens,
    make_embedding_similarity,
    merge_catalog,
    render_listing_line,
    resolve_locale,
    select_skills,
)
from skills._background import background

Pin = tuple[float, float]

DATA = Path(__file__).resolve().parents[1] / "data"


def load_rows(name: str) -> list[dict]:
    return [
        json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines() if line.strip()
    ]


def select(catalog, text: str, **kwargs):
    locale = resolve_locale(kwargs.pop("locale", None), None, None, text)
    return select_skills(catalog, SelectionInput(user_messages=[text], locale=locale, **kwargs))


def test_labelled_set_is_big_enough_and_well_formed():
    rows = load_rows("skills_labelled.jsonl")
    assert len(rows) >= 60
    assert sum(1 for r in rows if not r["expected"]) >= 10
    assert sum(1 for r in rows if resolve_locale(None, None, None, r["text"]) == "ja") >= 20
    known = {"research-brief", "writing-draft", "planning-structurer", "slides-author", "repo-app-operator"}
    assert all(set(r["expected"]) <= known for r in rows)


@pytest.mark.parametrize("name", ["skills_labelled.jsonl", "skills_heldout.jsonl"])
def test_selection_precision_and_recall(catalog, name):
    tp = fp = fn = 0
    for row in load_rows(name):
        got = set(select(catalog, row["text"], locale=row.get("locale")).activated_ids)
        expected = set(row["expected"])
        tp, fp, fn = tp + len(got & expected), fp + len(got - expected), fn + len(expected - got)
    assert tp / (tp + fp) >= 0.9
    assert tp / (tp + fn) >= 0.9


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Please research the history of the Suez canal and cite sources", ["research-brief"]),
        ("Draft an email to the team about the offsite", ["writing-draft"]),
        ("スライドを作って", ["slides-author"]),
        ("What's the weather like?", []),
    ],
)
def test_examples(catalog, text, expected):
    assert select(catalog, text).activated_ids == expected


def test_every_skill_gets_a_decision_with_reasons(catalog):
    selection = select(catalog, "Make slides for the quarterly review and a plan for the launch")
    assert {d.id for d in selection.decisions} == {k[1] for k in catalog.keys()}
    slides = selection.decision("slides-author")
    assert slides and slides.status == "activated" and any("slides" in r for r in slides.reasons)
    event = selection.to_event()
    assert event["activated"][0] == {"id": "slides-author", "source": "official"}
    assert json.loads(json.dumps(event)) == event


def test_latest_message_outweighs_older_ones_and_the_title(catalog):
    inp = SelectionInput(
        user_messages=[
            "Can you research solar panel subsidies?",
            "Thanks. Now write an email to my landlord.",
        ],
        thread_title="Solar research",
        locale="en",
    )
    selection = select_skills(catalog, inp)
    assert selection.activated_ids == ["writing-draft"]
    research = selection.decision("research-brief")
    assert research and any("earlier message" in r for r in research.reasons)
    assert any("below the activation bar" in r for r in research.reasons)


def test_title_and_run_input_count_but_less(catalog):
    only_title = select_skills(
        catalog, SelectionInput(user_messages=["go on"], thread_title="Slides", locale="en")
    )
    assert only_title.activated_ids == []
    run_input = SelectionInput(user_messages=[], run_input="Build a pitch deck for investors", locale="en")
    assert select_skills(catalog, run_input).activated_ids == ["slides-author"]


def test_agent_type_breaks_ties_but_does_not_activate_alone(catalog):
    plain = select(catalog, "hello there", agent_type="coder")
    assert plain.activated_ids == []
    code = plain.decision("repo-app-operator")
    assert code and code.score > 0 and "agent type" in code.reasons[0]


def test_unavailable_skills_are_never_activated_and_say_why(official):
    catalog = merge_catalog(official, [], template_ids=[])
    selection = select(catalog, "Make slides for Monday")
    assert "slides-author" not in selection.activated_ids
    decision = selection.decision("slides-author")
    assert decision and decision.status == "unavailable" and "missing template" in decision.reasons[-1]


def test_budget_is_respected_and_never_cuts_a_skill(catalog):
    text = "Research the market, write a blog post, plan the launch and make slides"
    everything = select(catalog, text)
    assert len(everything.activated) == 3  # max_active
    sizes = {d.id: d.tokens for d in everything.decisions if d.tokens}
    budget = min(sizes.values()) + 10
    tight = select_skills(catalog, SelectionInput(user_messages=[text], locale="en"), budget_tokens=budget)
    assert len(tight.activated) == 1 and tight.used_tokens <= budget
    for decision in tight.decisions:
        if decision.tokens and decision.status != "activated":
            assert any("would exceed the budget" in r or "already" in r for r in decision.reasons)
            assert decision.status == "listed"  # still offered in the listing


def test_per_skill_limit(catalog):
    selection = select_skills(
        catalog, SelectionInput(user_messages=["make slides"], locale="en"), per_skill_max_tokens=50
    )
    assert selection.activated == []
    decision = selection.decision("slides-author")
    assert decision and "per-skill limit" in decision.reasons[-1]


def many_custom(count: int) -> list[dict]:
    return [
        {
            "id": f"custom-{i:03d}",
            "name": f"custom-{i:03d}",
            "description": f"Team procedure number {i} " * 4,
            "triggers": [f"procedure {i}"],
            "instructions": "Step. " * 300,
        }
        for i in range(count)
    ]


def test_two_hundred_custom_skills_nothing_silently_dropped(official):
    catalog = merge_catalog(official, many_custom(200))
    selection = select_skills(
        catalog,
        SelectionInput(user_messages=["Write an email about procedure 7"], locale="en"),
        budget_tokens=2000,
        listing_budget_tokens=600,
    )
    assert selection.used_tokens <= 2000
    assert set(selection.activated_ids) == {"writing-draft", "custom-007"}
    listed_tokens = sum(approx_tokens(render_listing_line(s)) for s in selection.listed)
    assert listed_tokens <= 600
    statuses = [d.status for d in selection.decisions]
    assert len(statuses) == 205
    assert statuses.count("activated") + len(selection.listed) + selection.unlisted_count == 205
    assert selection.unlisted_count == statuses.count("unlisted") > 100
    # rank order: nothing listed after the first unlisted one
    first_unlisted = statuses.index("unlisted")
    assert "listed" not in statuses[first_unlisted:]
    unlisted = next(d for d in selection.decisions if d.status == "unlisted")
    assert "skill_list" in unlisted.reasons[-1]


def test_custom_skill_without_triggers_matches_on_its_description(official):
    record = {
        "id": "expense-audit",
        "name": "expense-audit",
        "description": "Audit employee expense claims against the travel policy.",
    }
    catalog = merge_catalog(official, [record])
    selection = select(catalog, "Please audit these expense claims for policy problems")
    assert selection.activated_ids == ["expense-audit"]
    assert select(catalog, "my travel was great").activated_ids == []  # one keyword is not enough


def test_embedding_similarity_adds_evidence(catalog):
    calls = []

    def embed(texts: list[str]) -> list[list[float]]:
        calls.append(len(texts))
        return [
            [1.0, 0.0] if ("projector" in t.lower() or "プロジェクター" in t) else [0.0, 1.0] for t in texts
        ]

    similarity = make_embedding_similarity(embed)
    # too short for the intent model (see skills._classifier.MIN_WORDS), so MiniLM is consulted
    inp = SelectionInput(user_messages=["the projector"], locale="en")
    selection = select_skills(catalog, inp, embedder_similarity=similarity)
    assert selection.activated_ids == ["slides-author"]
    assert any("semantic similarity 1.00" in r for r in selection.decision("slides-author").reasons)
    select_skills(catalog, inp, embedder_similarity=similarity)
    skills = catalog.skills("en")
    texts = len(skills) + sum(len(s.examples) for s in skills)  # each description and example
    everyday = sum(1 for t in background() if t.isascii())  # the neighbour votes' everyday-talk class
    # skill vectors, everyday talk and the query are embedded once each, then cached
    assert sorted(calls) == sorted([texts, everyday, 1])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Does this look good?", []),  # "look into" is an idiom: "look" alone is no evidence
        ("Please look into the causes of the 2008 crisis", ["research-brief"]),
        ("Can you make it sound friendlier?", ["writing-draft"]),
        ("The sound was too loud", []),
        ("I bought new standing desks", []),
    ],
)
def test_idioms_match_with_their_filler_words(catalog, text, expected):
    assert select(catalog, text).activated_ids == expected


def test_help_desk_trigger_of_a_custom_skill_needs_both_words(official):
    record = {
        "id": "support-macros",
        "name": "support-macros",
        "description": "Help desk macros",
        "triggers": ["help desk", "zendesk"],
    }
    catalog = merge_catalog(official, [record])
    assert select(catalog, "my standing desk is wobbly").activated_ids == []
    assert select(catalog, "update the help desk answers").activated_ids == ["support-macros"]


def _jsonl(name: str) -> list[dict[str, object]]:
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "data" / name
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_request_shapes_select_skills_without_trigger_words() -> None:
    """Paraphrases with no trigger word (issue 18): an action and a deliverable of one skill, en and ja."""
    from agent.bench.skills import evaluate
    from skills import load_official_catalog, merge_catalog

    catalog = merge_catalog(load_official_catalog(), [])
    # both files were tuning data for the request shapes and the examples (issue 18, item 7)
    for name in ("skills_paraphrase.jsonl", "skills_after_tuning.jsonl"):
        tuned = evaluate(catalog, _jsonl(name))
        assert tuned["precision"] >= 0.95 and tuned["recall"] >= 0.95, name
        assert set(tuned["by_locale"]) == {"en", "ja"}


def test_one_cue_alone_is_not_a_request() -> None:
    from skills import load_official_catalog, merge_catalog

    catalog = merge_catalog(load_official_catalog(), [])
    for text in (
        "Find out what time it is in Tokyo.",
        "Write the number 7 in Roman numerals.",
        "猫の名前を考えて。",
    ):
        selection = select(catalog, text)
        assert selection.activated_ids == [], text


def test_a_trigger_inside_another_skills_request_is_its_topic() -> None:
    """'present our hiring *plan* to the leadership meeting': the plan is what the slides are about."""
    from skills import load_official_catalog, merge_catalog

    catalog = merge_catalog(load_official_catalog(), [])
    text = "I have to present our hiring plan to the leadership meeting; make me eight pages with visuals."
    selection = select(catalog, text)
    assert selection.activated_ids == ["slides-author"]
    planning = selection.decision("planning-structurer")
    assert planning is not None and planning.status == "listed"
    assert any("topic of a slides-author request" in r for r in planning.reasons)
    # outside the request's span the same word is a request of its own
    text = "Make a plan for the launch, then present it at the board meeting."
    selection = select(catalog, text)
    assert set(selection.activated_ids) == {"planning-structurer", "slides-author"}


def test_examples_stand_in_only_when_words_are_missing() -> None:
    from skills import SelectionInput, load_official_catalog, merge_catalog, select_skills
    from skills._examples import ExampleModel

    catalog = merge_catalog(load_official_catalog(), [])
    no_trigger = "Put the survey numbers into something I can project at Monday's staff meeting."
    selection = select_skills(catalog, SelectionInput(user_messages=[no_trigger]))
    assert selection.activated_ids == ["slides-author"]
    slides = selection.decision("slides-author")
    assert slides is not None and any("intent model" in r for r in slides.reasons)
    named = select_skills(catalog, SelectionInput(user_messages=["Make slides for the staff meeting."]))
    slides = named.decision("slides-author")
    assert slides is not None and not any("intent model" in r for r in slides.reasons)
    # one shared word is ordinary vocabulary; a word only one example uses is that example's topic
    model = ExampleModel(
        [
            ("a", "turn the notes into pages"),
            ("a", "turn the report into pages"),
            ("b", "heat pumps in winter"),
        ],
        ["pages to show"],
    )
    assert model.nearest("turn this into pages") is not None
    assert model.nearest("turn left") is None
    assert model.nearest("heat pumps in winter") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Thanks, the plan worked perfectly!", []),
        ("ありがとう、今日のプレゼンうまくいったよ！", []),
        ("The demo went well today, thanks for the help.", []),  # 'the help' asks for nothing
        ("Thanks. Now make slides for the board.", ["slides-author"]),  # thanks, then a request
        ("ありがとう。次は役員会のスライドを作って。", ["slides-author"]),
        # work done or help no longer needed, which the intent model reads as everyday talk
        ("Perfect, the invitations went out this morning. Thanks!", []),
        ("Finally launched the new website last night, no complaints so far.", []),
        ("My brother booked the whole holiday himself, so no need to plan it anymore. Bye!", []),
        ("Draft the reply to Sam. Thanks!", ["writing-draft"]),  # a trigger opens the first clause
        ("Our trip to Cornwall was perfect, all that planning paid off. Thanks again!", []),
        ("Got an A on the essay, the rewrite you helped with really paid off.", []),
        ("We finally shipped the app update last night, no crashes so far!", []),  # 'no crashes' is no fault
        ("My research proposal got accepted!! Just wanted to share with someone.", []),
        # questions of fact answered from memory
        ("What year did the Berlin Wall come down?", []),
        ("会議でよく使う「アジェンダ」って、もともと何語なの？", []),
        (
            "When did the Berlin Wall come down, and what do historians say caused it? Cite sources.",
            ["research-brief"],
        ),
    ],
)
def test_thanks_and_news_ask_for_nothing(catalog, text, expected):
    assert select(catalog, text).activated_ids == expected


def test_everyday_talk_is_a_class_of_its_own() -> None:
    from skills import load_official_catalog, merge_catalog
    from skills._background import NO_SKILL

    model = merge_catalog(load_official_catalog(), []).classifier()
    text = "Tell me a fun fact about owls."  # 'tell' and 'fact' are in research examples too
    probabilities = model.probabilities(text)
    assert max(probabilities, key=probabilities.__getitem__) == NO_SKILL


def test_prompts_written_after_tuning_hold_their_measured_level() -> None:
    """Issue 18 item 7. skills_fresh2.jsonl was written after round 2's last tuning commit (P 0.917,
    R 0.524 then); round 3 (the learned intent model) tuned on it, and measures P 0.951, R 0.921 here.
    skills_fresh3.jsonl is round 3's unseen file. Pinned near the measured
    levels, so a change that loses paraphrases or lets small talk in fails here."""
    from agent.bench.skills import evaluate
    from skills import load_official_catalog, merge_catalog

    catalog = merge_catalog(load_official_catalog(), [])

    def holds(name: str, overall: Pin, en: Pin = (0.0, 0.0), ja: Pin = (0.0, 0.0)) -> None:
        """(precision, recall) floors overall and per locale; 0.0 is not pinned."""
        got = evaluate(catalog, _jsonl(name))
        locales = got["by_locale"]
        pins = ((got, overall), (locales.get("en", got), en), (locales.get("ja", got), ja))
        for measured, (precision, recall) in pins:
            assert measured["precision"] >= precision and measured["recall"] >= recall, (name, got)

    # round 4 (Japanese clauses): ja recall 0.893 -> 0.929
    holds("skills_fresh2.jsonl", (0.93, 0.9), en=(0.0, 0.9), ja=(0.0, 0.92))
    holds("skills_fresh.jsonl", (0.95, 0.95))
    # written after round 3's last tuning commit and never tuned on: P 0.969, R 0.913 (en 0.973/0.900,
    # ja 0.964/0.931)
    # (round 4, which did not tune on it either: P 0.970, R 0.927, ja recall 0.966)
    holds("skills_fresh3.jsonl", (0.95, 0.92), en=(0.0, 0.89), ja=(0.0, 0.95))
    # written by someone who never saw the selector, its examples or its test files, from the five skill
    # descriptions alone, and evaluated once on round 3's final commit: P 0.926, R 0.933 (en 0.952/0.983,
    # ja 0.898/0.883)
    # round 4 then used it as its development set (Japanese below 0.9): P 0.984, R 0.992 (en 0.984/1.000,
    # ja 0.983/0.983) after tuning on it, so this is no longer an unseen measurement
    holds("skills_blind.jsonl", (0.97, 0.98), en=(0.97, 0.98), ja=(0.97, 0.98))
    # written after round 4's last tuning commit, committed before it was evaluated, evaluated once:
    # P 0.966, R 0.903 (en 0.935/0.935, ja 1.000/0.871); main measured P 0.965, R 0.887 (ja 1.000/0.871)
    holds("skills_fresh4.jsonl", (0.96, 0.9), en=(0.0, 0.93), ja=(0.0, 0.87))
    # blind set 2 (130 prompts, 65 en / 65 ja), written like the first by someone who saw only the five
    # descriptions, after round 4's last tuning commit; evaluated once on round 3 (P 0.919, R 0.950; en
    # 0.908/0.983, ja 0.932/0.917) and once on round 4 (P 0.943, R 0.967; en 0.908/0.983, ja 0.983/0.950)
    # round 5 then tuned on it (P 0.984, R 0.992): no longer unseen
    holds("skills_blind3.jsonl", (0.94, 0.96), en=(0.9, 0.98), ja=(0.98, 0.95))
    # blind set 3 (160 prompts, 80 en / 80 ja, varied askers), written from the descriptions alone after
    # round 4 and never tuned on; evaluated on round 4 (P 0.901, R 0.895; en 0.885/0.908, ja 0.918/0.882)
    # and on round 5 (P 0.920, R 0.901; en 0.909/0.921, ja 0.931/0.882: Japanese recall below 0.9)
    # round 6 read its misses for their kinds: P 0.973, R 0.934 (en 0.987/0.961, ja 0.958/0.908)
    holds("skills_blind4.jsonl", (0.97, 0.93), en=(0.98, 0.96), ja=(0.95, 0.9))
    # round 6's dev sets (written before tuning on them, then tuned on)
    holds("skills_fresh6.jsonl", (0.96, 0.96), en=(0.93, 0.96), ja=(1.0, 0.96))
    holds("skills_fresh6c.jsonl", (0.97, 0.98), en=(0.94, 0.97), ja=(1.0, 1.0))
    holds("skills_fresh6en.jsonl", (0.97, 0.94))
    holds("skills_fresh6ja.jsonl", (0.98, 0.92))
    holds("skills_fresh6ja2.jsonl", (0.94, 0.92))
    # 120 English prompts written from the descriptions alone; tuned on (and its misses shaped the brief
    # of a batch of examples): first measured P 0.896, R 0.903 on round 5
    holds("skills_dev7en.jsonl", (0.95, 0.94))
    # blind sets 4-7 (160 prompts each, 80 en / 80 ja), written from the five descriptions alone by helpers
    # who saw no code, example or test file. blind5 was written before round 6 and never read: round 5
    # P 0.937, R 0.875 (en 0.919/0.895, ja 0.956/0.855); round 6 final P 0.952, R 0.915 (en 0.946/0.921,
    # ja 0.958/0.908)
    holds("skills_blind5.jsonl", (0.95, 0.91), en=(0.94, 0.92), ja=(0.95, 0.9))
    # blind6: round 5 P 0.871, R 0.842; measured once on round 6's merge (en 0.870/0.882, ja 0.895/0.895:
    # below target), then its misses were read for their kinds: final P 0.907, R 0.901 (en 0.907/0.895)
    holds("skills_blind6.jsonl", (0.9, 0.9), en=(0.9, 0.89), ja=(0.9, 0.9))
    # blind7: round 5 P 0.887, R 0.882; measured once (en 0.888/0.934: precision below target, ja
    # 0.936/0.961), then read for its kinds: final P 0.929, R 0.947
    holds("skills_blind7.jsonl", (0.92, 0.94), en=(0.91, 0.93), ja=(0.94, 0.96))
    # blind8: written while the last round-6 commits were made and never read: round 5 P 0.926, R 0.901
    # (en 0.910/0.934, ja 0.943/0.868); final P 0.960, R 0.934 (en 0.935/0.947, ja 0.986/0.921)
    holds("skills_blind8.jsonl", (0.95, 0.93), en=(0.93, 0.94), ja=(0.98, 0.92))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Clone the recipe blog starter and get it running on my laptop.", ["repo-app-operator"]),
        (
            "このニュース記事にある「コーヒーで脱水になる」って本当？ファクトチェックして、元の研究も見せて。",
            ["research-brief"],
        ),
        # the word is the only evidence, and the model reads its words as another request or as talk
        (
            "在宅ワーカー向けのモニターアーム、首こりに効くのか調べた情報を比べてまとめて。",
            ["research-brief"],
        ),
        ("先週のプレゼン、質問攻めにあったけど何とか乗り切った。", []),
        # the whole message reads as everyday talk well ahead of the word's skill (planning 0.29 here)
        ("引っ越しの計画は結局家族で決めちゃいました。また何かあれば聞くね", []),
        ("Docker化したアプリがメモリ不足で落ちるので調査して修正して。", ["repo-app-operator"]),
        # について、 is a particle, not a て-form joining a second request
        ("AIと著作権について、会報に載せるコラムを書いてもらえますか。", ["writing-draft"]),
        ("My presentation went fine, but the Q&A was rough.", []),  # a noun opening a clause is no imperative
        # a trigger that opens its clause is the imperative of a request of its own
        (
            "Research remote onboarding practices and draft a blog post about them.",
            ["research-brief", "writing-draft"],
        ),
    ],
)
def test_a_word_named_inside_another_skills_request_is_not_a_request(catalog, text, expected):
    """'fork the *blog* starter': one trigger word, in a clause the intent model reads as another skill's
    request (or as everyday talk) and not at all as its own, names what that request is about."""
    selection = select(catalog, text)
    assert sorted(selection.activated_ids) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a trigger below the relative bar, in a clause the intent model reads as its own request
        (
            "Break the office move down into milestones with owners, and then put together a presentation of that "
            "timeline for the staff meeting",
            ["planning-structurer", "slides-author"],
        ),
        # a request shape ('launch … app') beside a skill words decided is no second request…
        (
            "We're launching a booking app this autumn. Break the work down into phases with owners.",
            ["planning-structurer"],
        ),
        # …unless its action is a clause's imperative
        (
            "Write up a short welcome message for volunteers and then put together a schedule for their "
            "first two weeks.",
            ["planning-structurer", "writing-draft"],
        ),
    ],
)
def test_a_trigger_in_a_clause_read_as_its_skill_is_a_request_of_its_own(catalog, text, expected):
    assert sorted(select(catalog, text).activated_ids) == sorted(expected)


@pytest.mark.parametrize(
    "text",
    [
        "The invoice page throws a 500 since this morning's release. Investigate the code and fix it, please.",
        "アップデートしてからアプリの起動時にエラーが出るようになりました。調べて直してもらえますか。",
    ],
)
def test_looking_into_ones_own_failing_code_is_no_research(catalog, text):
    selection = select(catalog, text)
    assert selection.activated_ids == ["repo-app-operator"]
    decision = selection.decision("research-brief")
    assert decision is not None and any("own software" in r for r in decision.reasons)


def test_research_in_a_clause_of_its_own_beside_a_fix_keeps_its_word(catalog):
    text = "Research how other shops handle refunds, then fix the refund button in our repo."
    assert set(select(catalog, text).activated_ids) == {
        "research-brief",
        "repo-app-operator",
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a thing pointed at (この/その/添付の…) that another skill's request works on is its topic
        ("この記事に書いてある数字、ファクトチェックしてもらえますか。", ["research-brief"]),
        ("このスライドの内容をもとに、ブログ記事を書いて。", ["writing-draft"]),
        ("この記事をもっと読みやすく書き直して。", ["writing-draft"]),  # no other request: still its own
    ],
)
def test_a_thing_pointed_at_is_the_topic_of_another_request(catalog, text, expected):
    assert select(catalog, text).activated_ids == expected


def test_a_te_form_before_aru_describes_a_state(catalog):
    decision = select_skills(
        catalog,
        SelectionInput(user_messages=["この記事に書いてある数字、ファクトチェックしてもらえますか。"]),
    ).decision("writing-draft")
    assert decision is not None and not any("'書いて'" in r for r in decision.reasons)


@pytest.mark.parametrize(
    "text",
    [
        "We launched the app last week and the reviews are good.",
        "Our appointment page went live yesterday and patients are already using it.",
    ],
)
def test_news_of_software_work_done_asks_for_nothing(catalog, text):
    assert select(catalog, text).activated_ids == []


def test_a_past_tense_verb_is_no_imperative(catalog):
    # the shape 'launch … app' is what was done; the request is the press release
    text = "We launched the app last week; now write the press release."
    assert select(catalog, text).activated_ids == ["writing-draft"]


def test_investigating_in_the_codebase_is_debugging_even_when_the_model_reads_research_first(catalog):
    text = "The export job is flaky in CI, about one run in four. Please investigate in the actual codebase."
    assert select(catalog, text).activated_ids == ["repo-app-operator"]


def test_research_and_a_fix_in_one_english_clause_keep_both(catalog):
    text = "Research how other shops handle refunds and fix the refund button in our repo."
    assert set(select(catalog, text).activated_ids) == {
        "research-brief",
        "repo-app-operator",
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Fix the typos? 'We will be planing the summer schedule next week, so pls send you're availability"
            " by Friday.'",
            ["writing-draft"],
        ),
        ('Can you tidy this up? "Our team will plan the schedule for the spring fair next week."', []),
    ],
)
def test_an_english_quoted_passage_is_material_not_a_request(catalog, text, expected):
    assert select(catalog, text).activated_ids == expected


def test_beside_a_request_shape_the_models_own_reading_needs_less_than_the_second_skill_bar(catalog):
    text = "Find out which accessibility guidelines apply to our app and fix the contrast issues on the login screen."
    assert set(select(catalog, text).activated_ids) == {
        "research-brief",
        "repo-app-operator",
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ちょっとリサーチお願い。格安SIMの満足度。", ["research-brief"]),
        ("先週のプレゼン、何とか乗り切った", []),  # the word is what happened, not what is asked
    ],
)
def test_a_japanese_trigger_asked_for_directly_is_never_a_passing_word(catalog, text, expected):
    assert select(catalog, text).activated_ids == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("リサーチの結果、部長が気に入ってくれた。", []),
        ("I wrote the email myself in the end.", []),
        ("メールの文面、そのまま使わせてもらいました。", []),
        ("ブログ、毎日書くのって大変ですよね。", []),
    ],
)
def test_news_in_the_past_tense_asks_for_nothing(catalog, text, expected):
    assert select(catalog, text).activated_ids == expected


def test_the_object_of_an_opening_verb_of_making_is_asked_for(catalog):
    text = "Make a schedule for the team offsite and write the invitation email."
    assert set(select(catalog, text).activated_ids) == {
        "planning-structurer",
        "writing-draft",
    }


def test_a_word_in_a_list_of_to_dos_is_the_plans_material(catalog):
    text = (
        "What should I get done first this week? Tax return, unanswered emails, car service, and my sister's"
        " birthday present."
    )
    assert select(catalog, text).activated_ids == ["planning-structurer"]


def test_what_a_thing_is_turned_into_is_asked_for(catalog):
    text = (
        "Look into what other food pantries do about expiry dates and put it into slides for the volunteers."
    )
    assert set(select(catalog, text).activated_ids) == {
        "research-brief",
        "slides-author",
    }
