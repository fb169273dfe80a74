"""`agent skills …` subcommands (registered by agent/cli.py through `register`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from skills.catalog import merge_catalog
from skills.errors import SkillFileError
from skills.loader import load_official_catalog
from skills.locale import resolve_locale_with_reason
from skills.selection import SelectionInput, select_skills


def register(subparsers: Any) -> None:
    """Adds `skills select "TEXT" [--locale L] [--agent-type T] [--custom FILE] [--json]` and `skills validate`.

    Each leaf parser sets `fn(args) -> int`, the exit code (agent/cli.py dispatches on it).
    """
    skills = subparsers.add_parser("skills", help="inspect the skill catalog and selection")
    sub = skills.add_subparsers(dest="skills_command", required=True)

    select = sub.add_parser("select", help="rank skills for a prompt and print why")
    select.add_argument("text", help="the user's message")
    select.add_argument("--locale", default=None, help="explicit locale (en, ja); default: detected")
    select.add_argument("--agent-type", default=None)
    select.add_argument("--title", default=None, help="thread title")
    select.add_argument("--custom", type=Path, default=None, help="JSON file with a list of custom skills")
    select.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    select.set_defaults(fn=cmd_select)

    validate = sub.add_parser("validate", help="load and validate the official skill files")
    validate.add_argument("--root", type=Path, default=None)
    validate.set_defaults(fn=cmd_validate)


def run_select(args: argparse.Namespace) -> dict[str, Any]:
    """Does the work of `skills select` and returns the selection event payload plus the locale."""
    custom = json.loads(args.custom.read_text(encoding="utf-8")) if getattr(args, "custom", None) else []
    catalog = merge_catalog(load_official_catalog(), custom)
    locale, why = resolve_locale_with_reason(args.locale, None, None, args.text)
    selection = select_skills(
        catalog,
        SelectionInput(
            user_messages=[args.text],
            thread_title=getattr(args, "title", None),
            agent_type=getattr(args, "agent_type", None),
            locale=locale,
            locale_source=why,
        ),
    )
    return selection.to_event()


def cmd_select(args: argparse.Namespace) -> int:
    result = run_select(args)
    out = sys.stdout
    print(f"locale: {result['locale']} ({result['localeSource']})", file=out if not args.json else sys.stderr)
    for decision in result["decisions"]:
        if not args.json and (decision["score"] > 0 or decision["status"] in ("activated", "unavailable")):
            print(
                f"{decision['status']:<12} {decision['score']:>6.2f}  {decision['source']}/{decision['id']}"
            )
            for reason in decision["reasons"]:
                print(f"{'':21}- {reason}")
    if not args.json:
        active = ", ".join(a["id"] for a in result["activated"]) or "(none)"
        print(f"activated: {active}; listed: {result['listedCount']}; unlisted: {result['unlistedCount']}")
    else:
        print(json.dumps(result, ensure_ascii=False))
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    try:
        skills = load_official_catalog(args.root)
    except SkillFileError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    ids = sorted({s.id for s in skills})
    print(f"{len(ids)} official skills, {len(skills)} files: {', '.join(ids)}")
    return 0
