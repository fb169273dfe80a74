"""Read views over one space: the timeline (world time order) and provenance chains down to episodes."""

from __future__ import annotations

import json
from typing import Any

from control_bridge.errors import NotFound
from memory._models import Provenance, ProvenanceEpisode, TimelineItem, TimelineQuery, TimelineResult
from memory._search import fts_query, terms
from memory._store import SpaceStore, caller_key, parse_id
from memory._timeparse import iso

_EPISODE_COLUMNS = (
    "id, kind, text, run_id, session_id, thread_id, tool_call_id, dedup_key, occurred_at, recorded_at"
)


def _range(q: TimelineQuery, column: str) -> tuple[str, list[Any]]:
    sql, params = "", []
    if q.from_ is not None:
        sql += f" AND {column} >= ?"
        params.append(q.from_)
    if q.to is not None:
        sql += f" AND {column} <= ?"
        params.append(q.to)
    return sql, params


def timeline(store: SpaceStore, q: TimelineQuery) -> TimelineResult:
    """Episodes, facts and edges in one world-time order; expired edges stay visible with their expiry."""
    order = "ASC" if q.order == "asc" else "DESC"
    kinds = set(q.kinds) if q.kinds is not None else None
    match = fts_query(q.query) if q.query else None
    items: list[TimelineItem] = []
    if kinds is None or kinds - {"fact", "edge"}:
        where, params = _range(q, "e.occurred_at")
        if q.session_id is not None:
            where += " AND e.session_id = ?"
            params.append(q.session_id)
        if kinds is not None:
            episode_kinds = sorted(kinds - {"fact", "edge"})
            where += f" AND e.kind IN ({','.join('?' * len(episode_kinds))})"
            params.extend(episode_kinds)
        if match:
            where += " AND e.id IN (SELECT rowid FROM episodes_fts WHERE episodes_fts MATCH ?)"
            params.append(match)
        for row in store.rows(
            f"SELECT e.id, e.kind, e.text, e.occurred_at, e.session_id, e.run_id FROM episodes e WHERE 1{where}"
            f" ORDER BY e.occurred_at {order}, e.id {order} LIMIT ?",
            [*params, q.limit],
        ):
            items.append(
                TimelineItem(
                    id=f"ep:{row['id']}",
                    type="episode",
                    kind=row["kind"],
                    text=row["text"],
                    at=iso(row["occurred_at"]),
                    session_id=row["session_id"],
                    run_id=row["run_id"],
                    episode_ids=[f"ep:{row['id']}"],
                )
            )
    if kinds is None or "fact" in kinds:
        where, params = _range(q, "f.occurred_at")
        if q.session_id is not None:
            where += " AND f.session_id = ?"
            params.append(q.session_id)
        if match:
            where += " AND f.id IN (SELECT rowid FROM facts_fts WHERE facts_fts MATCH ?)"
            params.append(match)
        for row in store.rows(
            f"SELECT f.id, f.text, f.occurred_at, f.session_id, f.run_id, f.episode_ids FROM facts f WHERE 1{where}"
            f" ORDER BY f.occurred_at {order} LIMIT ?",
            [*params, q.limit],
        ):
            items.append(
                TimelineItem(
                    id=f"fact:{row['id']}",
                    type="fact",
                    kind="fact",
                    text=row["text"],
                    at=iso(row["occurred_at"]),
                    session_id=row["session_id"],
                    run_id=row["run_id"],
                    episode_ids=json.loads(row["episode_ids"]),
                )
            )
    if (kinds is None or "edge" in kinds) and q.session_id is None:
        where, params = _range(q, "COALESCE(g.valid_from, g.recorded_at)")
        words = terms(q.query) if q.query else []
        if words:
            likes = " OR ".join(["s.norm LIKE ? OR o.norm LIKE ? OR g.predicate LIKE ?"] * len(words[:8]))
            where += f" AND ({likes})"
            for w in words[:8]:
                params.extend([f"%{w}%"] * 3)
        for row in store.rows(
            "SELECT g.id, s.name AS subject, g.predicate, o.name AS object, g.valid_from, g.valid_to,"
            " g.recorded_at, g.expired_at, g.episode_ids FROM edges g JOIN entities s ON s.id = g.subject_id"
            f" JOIN entities o ON o.id = g.object_id WHERE 1{where}"
            f" ORDER BY COALESCE(g.valid_from, g.recorded_at) {order}, g.id {order} LIMIT ?",
            [*params, q.limit],
        ):
            items.append(
                TimelineItem(
                    id=f"edge:{row['id']}",
                    type="edge",
                    kind=row["predicate"],
                    text=f"{row['subject']} {row['predicate']} {row['object']}",
                    at=iso(row["valid_from"] if row["valid_from"] is not None else row["recorded_at"]),
                    valid_to=iso(row["valid_to"]),
                    expired_at=iso(row["expired_at"]),
                    episode_ids=json.loads(row["episode_ids"]),
                )
            )
    items.sort(key=lambda i: (i.at is None, i.at.timestamp() if i.at else 0.0), reverse=order == "DESC")
    return TimelineResult(items=items[: q.limit])


def _episodes(store: SpaceStore, refs: list[str]) -> list[ProvenanceEpisode]:
    rowids = [parse_id(r)[1] for r in refs if r.startswith("ep:")][:200]
    if not rowids:
        return []
    rows = store.rows(
        f"SELECT {_EPISODE_COLUMNS} FROM episodes WHERE id IN ({','.join('?' * len(rowids))}) ORDER BY id",
        rowids,
    )
    return [
        ProvenanceEpisode(
            id=f"ep:{r['id']}",
            kind=r["kind"],
            text=r["text"],
            run_id=r["run_id"],
            session_id=r["session_id"],
            thread_id=r["thread_id"],
            tool_call_id=r["tool_call_id"],
            key=caller_key(r["dedup_key"]),
            occurred_at=iso(r["occurred_at"]),
            recorded_at=iso(r["recorded_at"]),
        )
        for r in rows
    ]


def provenance(store: SpaceStore, item_id: str) -> Provenance:
    """The item itself plus the episodes it rests on (an episode is its own provenance)."""
    prefix, rowid = parse_id(item_id)
    if prefix == "ep":
        found = store.rows(f"SELECT {_EPISODE_COLUMNS}, speaker, metadata FROM episodes WHERE id=?", [rowid])
        if not found:
            raise NotFound(item_id)
        item = {k: v for k, v in found[0].items() if k != "dedup_key"}
        item["metadata"] = json.loads(item["metadata"] or "{}")
        return Provenance(id=item_id, type="episode", item=item, episodes=_episodes(store, [item_id]))
    if prefix == "fact":
        found = store.rows(
            "SELECT id, text, confidence, run_id, session_id, occurred_at, recorded_at, episode_ids FROM facts"
            " WHERE id=?",
            [rowid],
        )
        if not found:
            raise NotFound(item_id)
        refs = json.loads(found[0]["episode_ids"])
        return Provenance(
            id=item_id, type="fact", item=found[0] | {"episode_ids": refs}, episodes=_episodes(store, refs)
        )
    if prefix == "edge":
        found = store.rows(
            "SELECT g.id, s.name AS subject, g.predicate, o.name AS object, g.weight, g.valid_from, g.valid_to,"
            " g.recorded_at, g.expired_at, g.fact_id, g.episode_ids FROM edges g"
            " JOIN entities s ON s.id = g.subject_id JOIN entities o ON o.id = g.object_id WHERE g.id=?",
            [rowid],
        )
        if not found:
            raise NotFound(item_id)
        refs = json.loads(found[0]["episode_ids"])
        return Provenance(
            id=item_id, type="edge", item=found[0] | {"episode_ids": refs}, episodes=_episodes(store, refs)
        )
    found = store.rows(
        "SELECT id, name, type, first_seen, last_seen, recorded_at FROM entities WHERE id=?", [rowid]
    )
    if not found:
        raise NotFound(item_id)
    mentions = store.rows(
        "SELECT episode_id FROM mentions WHERE entity_id=? ORDER BY episode_id DESC LIMIT 50", [rowid]
    )
    edge_refs = store.rows(
        "SELECT episode_ids FROM edges WHERE subject_id=? OR object_id=? ORDER BY id DESC LIMIT 50",
        [rowid, rowid],
    )
    refs = {f"ep:{m['episode_id']}" for m in mentions}
    for row in edge_refs:
        refs.update(json.loads(row["episode_ids"]))
    ordered = sorted(refs, key=lambda r: parse_id(r)[1])
    return Provenance(id=item_id, type="entity", item=found[0], episodes=_episodes(store, ordered))
