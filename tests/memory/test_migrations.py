from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import numpy as np
import pytest

from memory import HashEmbedder, MemoryService
from memory._schema import LATEST, SCHEMA_V1
from memory._service import space_filename


def _v1_database(path: Path) -> None:
    """What the first release wrote: v1 tables, version row 1, a few episodes and a fact."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at REAL NOT NULL)")
    for statement in SCHEMA_V1:
        conn.execute(statement)
    conn.execute("INSERT INTO schema_version VALUES (1, ?)", (time.time(),))
    embedder = HashEmbedder()
    texts = ["the deploy failed on friday", "we rolled back the deploy", "lunch was pizza"]
    vectors = embedder.embed_sync(texts)
    for i, (text, vec) in enumerate(zip(texts, vectors, strict=True), 1):
        conn.execute(
            "INSERT INTO episodes (id, run_id, session_id, kind, text, occurred_at, recorded_at, dedup_key, embedding)"
            " VALUES (?, 'old-run', 'old-session', 'user_message', ?, ?, ?, ?, ?)",
            (
                i,
                text,
                1_600_000_000.0 + i,
                1_600_000_000.0 + i,
                f"k:old{i}",
                vec.astype(np.float32).tobytes(),
            ),
        )
        conn.execute("INSERT INTO episodes_fts (rowid, text) VALUES (?, ?)", (i, text))
    conn.execute(
        "INSERT INTO facts (text, confidence, episode_ids, recorded_at, text_hash) VALUES"
        " ('deploys fail on fridays', 0.9, '[\"ep:1\"]', 1600000010.0, 'h1')"
    )
    conn.commit()
    conn.close()


async def test_an_older_database_is_migrated_not_broken(tmp_path: Path) -> None:
    _v1_database(tmp_path / "memory" / space_filename("legacy"))
    service = MemoryService(tmp_path, HashEmbedder())
    store = await service.store("legacy")
    assert store.migrated_from == 1
    versions = [r["version"] for r in store.rows("SELECT version FROM schema_version ORDER BY version")]
    assert versions == list(range(1, LATEST + 1))
    # v1 did not record its embedder: its vectors are re-embedded in the background, never mixed
    assert store.reembedding
    await service.settle()
    meta = dict((r["key"], r["value"]) for r in store.rows("SELECT key, value FROM meta"))
    assert meta["embedder_name"] == HashEmbedder.name and meta["space_id"] == "legacy"
    # old rows are searchable, with their vectors and keys
    for mode in ("keyword", "dense"):
        hits = await service.search(
            "legacy", {"query": "we rolled back the deploy", "top_k": 3, "mode": mode}
        )
        assert hits.hits[0].text == "we rolled back the deploy" and hits.hits[0].key == "old2"
    # the v2 column linking turns was back-filled
    assert store.rows("SELECT prev_id FROM episodes WHERE id = 3")[0]["prev_id"] == 2
    # new writes use the new columns, and the old fact keeps its provenance
    written = await service.write(
        "legacy", {"episodes": [{"text": "new", "threadId": "t1", "sessionId": "old-session"}]}
    )
    prov = await service.provenance("legacy", written.episode_ids[0])
    assert prov.episodes[0].thread_id == "t1"
    fact = await service.provenance("legacy", "fact:1")
    assert [e.id for e in fact.episodes] == ["ep:1"]
    await service.aclose()
    # reopening is a no-op migration
    again = MemoryService(tmp_path, HashEmbedder())
    assert (await again.store("legacy")).migrated_from == LATEST
    await again.aclose()


async def test_a_newer_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "memory" / space_filename("future")
    path.parent.mkdir(parents=True)
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at REAL NOT NULL)")
    conn.execute("INSERT INTO schema_version VALUES (?, 0)", (LATEST + 1,))
    conn.commit()
    conn.close()
    service = MemoryService(tmp_path, HashEmbedder())
    with pytest.raises(RuntimeError, match="newer"):
        await service.store("future")
    await service.aclose()
