"""`agent memory search|timeline|graph|provenance|import`: operator access to a space's memory.

The lead's `agent/cli.py` calls `register(subparsers, data_dir_default)`; the parsed namespace carries
`func`, which runs the command and returns an exit code.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from control_bridge.errors import NotFound
from memory._embedder import Embedder, HashEmbedder, MiniLMEmbedder
from memory._ingest import MemoryIngestor
from memory._models import EpisodeIn, FactIn, MemoryWrite, SearchQuery
from memory._service import MemoryService

IMPORT_BATCH = 256


def register(subparsers: Any, data_dir_default: Callable[[], Path]) -> None:
    parser = subparsers.add_parser("memory", help="search and inspect the agent's memory")
    commands = parser.add_subparsers(dest="memory_command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--space", default="default", help="memory space id (default: %(default)s)")
        p.add_argument("--data-dir", type=Path, default=None, help="data folder (default: $DATA_DIR)")
        p.add_argument("--json", action="store_true", help="print JSON instead of text")
        p.add_argument("--embedder", choices=["minilm", "hash"], default="minilm", help=argparse.SUPPRESS)
        handler = lambda args: _run(args, data_dir_default)  # noqa: E731
        p.set_defaults(fn=handler)  # agent/cli.py dispatches on `fn`

    p = commands.add_parser("search", help="hybrid search")
    p.add_argument("query")
    p.add_argument("--top-k", type=int, default=8)
    p.add_argument("--mode", choices=["hybrid", "dense", "keyword"], default="hybrid")
    p.add_argument("--kind", action="append", dest="kinds")
    p.add_argument("--session")
    common(p)
    p = commands.add_parser("timeline", help="memory in world-time order")
    p.add_argument("--from", dest="from_", help="ISO date or relative ('last 7 days')")
    p.add_argument("--to")
    p.add_argument("--query")
    p.add_argument("--session")
    p.add_argument("--kind", action="append", dest="kinds")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--order", choices=["asc", "desc"], default="asc")
    common(p)
    p = commands.add_parser("graph", help="entity neighbourhood or paths")
    p.add_argument("entity", nargs="?")
    p.add_argument("--node-id")
    p.add_argument("--query")
    p.add_argument("--target")
    p.add_argument("--depth", type=int, default=2)
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--include-expired", action="store_true")
    common(p)
    p = commands.add_parser("provenance", help="where an item came from")
    p.add_argument("id")
    common(p)
    p = commands.add_parser("import", help="add episodes/facts from a JSON Lines file")
    p.add_argument("file", type=Path)
    p.add_argument("--distill", action="store_true", help="also extract entities and edges")
    common(p)


def _run(args: argparse.Namespace, data_dir_default: Callable[[], Path]) -> int:
    data_dir = args.data_dir or data_dir_default()
    embedder: Embedder = HashEmbedder() if args.embedder == "hash" else MiniLMEmbedder()
    try:
        return asyncio.run(_command(args, MemoryService(data_dir, embedder)))
    except NotFound as exc:
        print(f"error: not found: {exc}", file=sys.stderr)
        return 2
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


async def _prepare(args: argparse.Namespace, service: MemoryService) -> None:
    """Our own progress lines where the model is slow to load (library progress bars are turned off)."""
    embedder = service.embedder
    if args.memory_command != "search" or args.mode == "keyword" or not service.pool.exists(args.space):
        return
    if not getattr(embedder, "loaded", True):
        print(
            "loading the embedding model (first use in this process takes a few seconds) …", file=sys.stderr
        )
        await embedder.load()  # type: ignore[attr-defined]
    store = await service.store(args.space)
    pending = store.pending()
    if pending:
        print(f"embedding {pending} memory rows written without a vector …", file=sys.stderr)
        await service.settle(args.space)


async def _command(args: argparse.Namespace, service: MemoryService) -> int:
    try:
        await _prepare(args, service)
        command = args.memory_command
        if command == "search":
            q = SearchQuery(
                query=args.query, top_k=args.top_k, mode=args.mode, kinds=args.kinds, session_id=args.session
            )
            result = await service.search(args.space, q)
            lines = [
                f"{h.score:.4f}  {h.id:<10} {_when(h.occurred_at)}  {h.kind:<17} {_who(h.speaker)}{_short(h.text)}"
                for h in result.hits
            ]
            return _emit(args, result.model_dump(mode="json"), lines or ["no hits"])
        if command == "timeline":
            query = {
                "from": args.from_,
                "to": args.to,
                "query": args.query,
                "session_id": args.session,
                "kinds": args.kinds,
                "limit": args.limit,
                "order": args.order,
            }
            found = await service.timeline(args.space, {k: v for k, v in query.items() if v is not None})
            lines = [
                f"{_when(i.at)}  {i.id:<10} {i.kind:<17} {_short(i.text)}"
                + (" (expired)" if i.expired_at else "")
                for i in found.items
            ]
            return _emit(args, found.model_dump(mode="json"), lines or ["nothing in that range"])
        if command == "graph":
            graph = await service.graph(
                args.space,
                {
                    "entity": args.entity,
                    "node_id": args.node_id,
                    "query": args.query,
                    "target": args.target,
                    "max_depth": args.depth,
                    "limit": args.limit,
                    "include_expired": args.include_expired,
                },
            )
            names = {n.id: n.name for n in graph.nodes}
            lines = [f"{n.id:<10} {n.type:<8} {n.name}" for n in graph.nodes] + [
                f"{e.id:<10} {names.get(e.source, e.source)} -{e.predicate}-> {names.get(e.target, e.target)}"
                f"  from {_when(e.valid_from)}"
                + (f" expired {_when(e.expired_at)}" if e.expired_at else "")
                + f"  [{', '.join(e.episode_ids[:5])}]"
                for e in graph.edges
            ]
            lines += [" -> ".join(names.get(n, n) for n in p) for p in graph.paths]
            return _emit(args, graph.model_dump(mode="json"), lines)
        if command == "provenance":
            prov = await service.provenance(args.space, args.id)
            lines = [f"{prov.type} {prov.id}: {json.dumps(prov.item, default=str)[:400]}"] + [
                f"  {e.id:<10} {_when(e.occurred_at)} run={e.run_id} session={e.session_id}"
                f" tool_call={e.tool_call_id}  {_short(e.text, 80)}"
                for e in prov.episodes
            ]
            return _emit(args, prov.model_dump(mode="json"), lines)
        return await _import(args, service)
    finally:
        await service.aclose()


async def _import(args: argparse.Namespace, service: MemoryService) -> int:
    from tqdm import tqdm

    total = _count_lines(args.file)
    episodes: list[EpisodeIn] = []
    facts: list[FactIn] = []
    counts = {"episodes": 0, "facts": 0, "duplicates": 0, "errors": 0}

    async def flush() -> None:
        if episodes or facts:
            result = await service.write(args.space, MemoryWrite(episodes=episodes, facts=facts))
            counts["episodes"] += len(result.episode_ids) - (result.duplicates if not facts else 0)
            counts["facts"] += len(result.fact_ids)
            counts["duplicates"] += result.duplicates
            episodes.clear()
            facts.clear()

    lines = _lines(args.file)
    for number, line in enumerate(tqdm(lines, total=total, desc="import", unit="line", file=sys.stderr), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError("a line must be a JSON object")
            if record.pop("type", "episode") == "fact":
                facts.append(FactIn.model_validate(record))
            else:
                episodes.append(EpisodeIn.model_validate(record))
        except ValueError as exc:
            counts["errors"] += 1
            print(f"line {number}: skipped ({str(exc).splitlines()[0][:120]})", file=sys.stderr)
        if len(episodes) + len(facts) >= IMPORT_BATCH:
            await flush()
    await flush()
    if counts["episodes"] or counts["facts"]:
        print("embedding the imported rows …", file=sys.stderr)
        await service.settle(args.space)
    if args.distill:
        await MemoryIngestor(service).distill_space(args.space)
    summary = (
        f"imported {counts['episodes']} episodes and {counts['facts']} facts into space {args.space!r}"
        f" ({counts['duplicates']} duplicates, {counts['errors']} bad lines)"
    )
    _emit(args, counts, [summary])
    return 1 if counts["errors"] and not (counts["episodes"] or counts["facts"]) else 0


def _count_lines(path: Path) -> int:
    with open(path, encoding="utf-8") as fh:
        return sum(1 for _ in fh)


def _lines(path: Path) -> Iterator[str]:
    """Read lazily (a CLI process of its own: a blocking read here stalls nothing else)."""
    with open(path, encoding="utf-8") as fh:
        yield from fh


def _emit(args: argparse.Namespace, data: Any, lines: list[str]) -> int:
    print(json.dumps(data, default=str) if args.json else "\n".join(lines))
    return 0


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


def _who(speaker: str | None) -> str:
    return f"{speaker}: " if speaker else ""


def _short(text: str, width: int = 100) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"
