"""The graph view: networkx over the edges table, kept in step with the store incrementally.

Edges are bi-temporal, so the graph keeps expired edges too (marked); queries skip them unless asked.
"""

from __future__ import annotations

import itertools
import json
from collections import deque
from typing import Any

import networkx as nx

from control_bridge.errors import NotFound
from memory._models import GraphEdge, GraphNode, GraphQuery, GraphResult
from memory._search import terms
from memory._store import SpaceStore, norm, parse_id
from memory._timeparse import iso


class GraphView:
    def __init__(self) -> None:
        self.graph: nx.MultiDiGraph[str] = nx.MultiDiGraph()
        self._version = -1
        self._max_entity = 0
        self._since = 0.0

    def refresh(self, store: SpaceStore) -> nx.MultiDiGraph[str]:
        if store.version == self._version:
            return self.graph
        self._version = store.version
        for row in store.rows("SELECT id, name, type FROM entities WHERE id > ?", [self._max_entity]):
            self.graph.add_node(f"ent:{row['id']}", name=row["name"], type=row["type"])
            self._max_entity = max(self._max_entity, row["id"])
        rows = store.rows(
            "SELECT id, subject_id, predicate, object_id, weight, valid_from, valid_to, recorded_at, expired_at,"
            " episode_ids, updated_at FROM edges WHERE updated_at >= ?",
            [self._since],
        )
        for row in rows:
            self.graph.add_edge(f"ent:{row['subject_id']}", f"ent:{row['object_id']}", key=row["id"], **row)
            self._since = max(self._since, row["updated_at"])
        return self.graph

    def _resolve(self, store: SpaceStore, name: str) -> list[str]:
        exact = store.rows("SELECT id FROM entities WHERE norm = ?", [norm(name)])
        if exact:
            return [f"ent:{exact[0]['id']}"]
        rows = store.rows(
            "SELECT id FROM entities WHERE norm LIKE ? ORDER BY length(norm) LIMIT 5",
            [f"%{norm(name)[:200]}%"],
        )
        return [f"ent:{r['id']}" for r in rows]

    def _seeds(self, store: SpaceStore, q: GraphQuery) -> list[str]:
        if q.node_id:
            prefix, _ = parse_id(q.node_id)
            if prefix != "ent":
                raise ValueError(f"node_id must be an entity id (ent:N), got {q.node_id[:40]!r}")
            return [q.node_id]
        if q.entity:
            return self._resolve(store, q.entity)
        seeds: list[str] = []
        for word in terms(q.query or "")[:8]:
            seeds.extend(s for s in self._resolve(store, word) if s not in seeds)
        return seeds[:5]

    def search(self, store: SpaceStore, q: GraphQuery) -> GraphResult:
        with store.lock:
            graph = self.refresh(store)
            seeds = [s for s in self._seeds(store, q) if s in graph]
            if not seeds:
                raise NotFound("no entity matches " + repr((q.entity or q.node_id or q.query or "")[:80]))
            allowed = set(q.relation_types) if q.relation_types else None

            def usable(data: dict[str, Any]) -> bool:
                if data["expired_at"] is not None and not q.include_expired:
                    return False
                return allowed is None or data["predicate"] in allowed

            if q.target:
                targets = [t for t in self._resolve(store, q.target) if t in graph]
                if not targets:
                    raise NotFound(f"no entity matches {q.target[:80]!r}")
                return self._paths(graph, seeds[0], targets[0], q, usable)
            return self._neighbourhood(graph, seeds, q, usable)

    def _neighbourhood(
        self, graph: nx.MultiDiGraph[str], seeds: list[str], q: GraphQuery, usable: Any
    ) -> GraphResult:
        seen = set(seeds)
        edges: dict[int, dict[str, Any]] = {}
        queue = deque((s, 0) for s in seeds)
        while queue and len(edges) < q.limit:
            node, depth = queue.popleft()
            if depth >= q.max_depth:
                continue
            incident = itertools.chain(
                graph.out_edges(node, keys=True, data=True), graph.in_edges(node, keys=True, data=True)
            )
            ranked = sorted(incident, key=lambda e: -e[3]["weight"])
            for u, v, key, data in ranked:
                if not usable(data) or key in edges:
                    continue
                edges[key] = data
                other = v if u == node else u
                if other not in seen:
                    seen.add(other)
                    queue.append((other, depth + 1))
                if len(edges) >= q.limit:
                    break
        return self._result(graph, seen, edges.values(), [])

    def _paths(
        self, graph: nx.MultiDiGraph[str], source: str, target: str, q: GraphQuery, usable: Any
    ) -> GraphResult:
        view: nx.Graph[str] = nx.Graph()
        for u, v, data in graph.edges(data=True):
            if usable(data):
                view.add_edge(u, v)
        paths: list[list[str]] = []
        if source in view and target in view:
            try:
                for path in nx.all_shortest_paths(view, source, target):
                    if len(path) - 1 > q.max_depth:
                        break
                    paths.append(path)
                    if len(paths) >= 5:
                        break
            except nx.NetworkXNoPath:
                pass
        nodes = {n for p in paths for n in p} | {source, target}
        edges = [
            data
            for p in paths
            for a, b in itertools.pairwise(p)
            for data in [
                *graph.get_edge_data(a, b, default={}).values(),
                *graph.get_edge_data(b, a, default={}).values(),
            ]
            if usable(data)
        ]
        return self._result(graph, nodes, edges, paths)

    @staticmethod
    def _result(graph: nx.MultiDiGraph[str], nodes: Any, edges: Any, paths: list[list[str]]) -> GraphResult:
        out_edges = {
            d["id"]: GraphEdge(
                id=f"edge:{d['id']}",
                source=f"ent:{d['subject_id']}",
                target=f"ent:{d['object_id']}",
                predicate=d["predicate"],
                weight=d["weight"],
                valid_from=iso(d["valid_from"]),
                valid_to=iso(d["valid_to"]),
                recorded_at=iso(d["recorded_at"]),
                expired_at=iso(d["expired_at"]),
                episode_ids=json.loads(d["episode_ids"]),
            )
            for d in edges
        }
        out_nodes = [
            GraphNode(id=n, name=graph.nodes[n].get("name", n), type=graph.nodes[n].get("type", "entity"))
            for n in sorted(nodes, key=lambda n: parse_id(n)[1])
        ]
        return GraphResult(nodes=out_nodes, edges=list(out_edges.values()), paths=paths)
