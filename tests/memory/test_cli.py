from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from memory.cli import register


def _parse(tmp_path: Path, *argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="agent")
    register(parser.add_subparsers(dest="command"), lambda: tmp_path)
    return parser.parse_args(["memory", *argv, "--embedder", "hash"])


def _run(tmp_path: Path, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    args = _parse(tmp_path, *argv)
    code = args.fn(args)
    return code, capsys.readouterr().out


def test_import_then_search_timeline_graph_provenance(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in.jsonl"
    lines = [
        {
            "text": "Maria adopted a puppy named Coco",
            "speaker": "Maria",
            "sessionId": "s1",
            "occurredAt": "2023-04-01",
        },
        {
            "text": "John started a new job at Acme",
            "speaker": "John",
            "sessionId": "s1",
            "occurredAt": "2023-04-02",
        },
        {
            "type": "fact",
            "text": "Coco is a puppy",
            "subject": "Coco",
            "predicate": "is_a",
            "object": "puppy",
            "episodeIds": ["ep:1"],
        },
        "not json",
    ]
    source.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n\n")
    code, out = _run(tmp_path, capsys, "import", str(source), "--space", "cli", "--distill")
    assert code == 0 and "imported 2 episodes and 1 facts" in out and "1 bad lines" in out

    code, out = _run(tmp_path, capsys, "search", "puppy Coco", "--space", "cli")
    assert code == 0 and out.splitlines()[0].split()[1] in ("ep:1", "fact:1")

    code, out = _run(tmp_path, capsys, "search", "puppy", "--space", "cli", "--json")
    assert json.loads(out)["hits"]

    code, out = _run(tmp_path, capsys, "timeline", "--space", "cli", "--from", "2023-04-02", "--kind", "note")
    assert "John started" in out and "Maria" not in out

    code, out = _run(tmp_path, capsys, "graph", "Coco", "--space", "cli")
    assert "-is_a-> puppy" in out

    code, out = _run(tmp_path, capsys, "provenance", "fact:1", "--space", "cli")
    assert code == 0 and "ep:1" in out and "session=s1" in out


def test_errors_exit_nonzero_with_a_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = _parse(tmp_path, "provenance", "ep:42")
    assert args.fn(args) == 2
    assert "not found: ep:42" in capsys.readouterr().err
    args = _parse(tmp_path, "provenance", "nonsense")
    assert args.fn(args) == 2
    assert "not a memory id" in capsys.readouterr().err
