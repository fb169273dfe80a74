from __future__ import annotations

import argparse
import json

import pytest

from skills.cli import register


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="agent")
    register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def test_select_json_prints_one_object_last(capsys):
    args = parse(["skills", "select", "来週の発表スライドを作って", "--json"])
    assert args.fn(args) == 0
    out = capsys.readouterr().out.strip().splitlines()
    result = json.loads(out[-1])
    assert result["locale"] == "ja" and result["localeSource"] == "script"
    assert result["activated"] == [{"id": "slides-author", "source": "official"}]
    assert all({"id", "status", "score", "reasons"} <= set(d) for d in result["decisions"])


def test_select_human_output_shows_reasons(capsys, tmp_path):
    custom = tmp_path / "custom.json"
    custom.write_text(
        json.dumps(
            [
                {
                    "id": "tax-helper",
                    "name": "tax-helper",
                    "description": "Tax returns",
                    "triggers": ["tax return"],
                }
            ]
        )
    )
    args = parse(
        ["skills", "select", "Help me file my tax return", "--locale", "en", "--custom", str(custom)]
    )
    assert args.fn(args) == 0
    out = capsys.readouterr().out
    assert "activated" in out and "custom/tax-helper" in out and "trigger 'tax return'" in out


def test_validate(capsys, tmp_path):
    args = parse(["skills", "validate"])
    assert args.fn(args) == 0 and "5 official skills, 10 files" in capsys.readouterr().out
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "en.md").write_text("no front matter")
    args = parse(["skills", "validate", "--root", str(tmp_path)])
    assert args.fn(args) == 1 and "broken/en.md" in capsys.readouterr().err


def test_select_requires_text():
    with pytest.raises(SystemExit):
        parse(["skills", "select"])
