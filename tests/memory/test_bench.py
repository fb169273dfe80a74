from __future__ import annotations

import argparse
import json
from pathlib import Path

from agent.bench import memory as bench


def test_evidence_clean_up_follows_the_readme() -> None:
    known = {"D1:3", "D11:26", "D30:5", "D2:1"}
    assert bench.clean_evidence(["D:11:26", "D30:05; D1:3", "(D2:1)", "D10:19", "D"], known) == [
        "D11:26",
        "D30:5",
        "D1:3",
        "D2:1",
    ]


def test_session_dates_parse() -> None:
    assert bench.session_time("1:56 pm on 8 May, 2023") == 1683554160.0


def test_locomo_run_reports_the_issue_keys(tmp_path: Path) -> None:
    conv = {
        "speaker_a": "Ann",
        "speaker_b": "Ben",
        "session_1_date_time": "1:56 pm on 8 May, 2023",
        "session_1": [
            {"speaker": "Ann", "dia_id": "D1:1", "text": "I adopted a cat named Miso"},
            {"speaker": "Ben", "dia_id": "D1:2", "text": "Nice! What breed?"},
            {"speaker": "Ann", "dia_id": "D1:3", "text": "A tabby", "blip_caption": "a photo of a cat"},
        ],
        "session_1_observation": {"Ann": [["SECRET observation", "D1:1"]]},
        "qa": [
            {
                "question": "What is the name of Ann's cat?",
                "answer": "Miso",
                "evidence": ["D1:1"],
                "category": 4,
            },
            {"question": "What breed is Miso?", "answer": "tabby", "evidence": ["D1:3"], "category": 1},
            {"question": "Never said", "adversarial_answer": "x", "evidence": ["D1:2"], "category": 5},
        ],
    }
    folder = tmp_path / "locomo"
    folder.mkdir()
    (folder / "99.json").write_text(json.dumps(conv))
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    predictions = tmp_path / "pred.jsonl"
    args = parser.parse_args(
        ["--locomo", str(folder), "--embedder", "hash", "--predictions", str(predictions)]
    )
    result = bench.run(args)
    for key in ("recall@5", "recall@10", "recall@20", "by_category", "search_p50_ms", "search_p95_ms"):
        assert key in result
    assert result["recall@5"] == 1.0 and set(result["by_category"]) == {"single-hop", "multi-hop"}
    lines = [json.loads(x) for x in predictions.read_text().splitlines()]
    assert [x["question_index"] for x in lines] == [0, 1]
    assert lines[0]["conversation"] == "99" and lines[0]["retrieved"][:3]
    assert set(lines[0]["retrieved"]) <= {"D1:1", "D1:2", "D1:3"}
