import memory


def test_public_api_is_pinned() -> None:
    assert sorted(memory.__all__) == sorted(
        [
            "Embedder",
            "EmbedderId",
            "EpisodeIn",
            "FactIn",
            "GraphQuery",
            "GraphResult",
            "HashEmbedder",
            "MemoryIngestor",
            "MemoryService",
            "MemoryTool",
            "MemoryToolError",
            "MemoryWrite",
            "MiniLMEmbedder",
            "NotFound",
            "Provenance",
            "RunEpisode",
            "SearchHit",
            "SearchQuery",
            "SearchResult",
            "TimelineQuery",
            "TimelineResult",
            "WriteResult",
            "build_memory_tools",
            "format_hit",
            "memory_context",
            "parse_time",
            "render_memory_context",
            "rpc_methods",
            "space_filename",
        ]
    )
    for name in memory.__all__:
        assert getattr(memory, name) is not None


def test_memory_imports_neither_agent_nor_skills() -> None:
    import pathlib
    import re

    root = pathlib.Path(memory.__file__).parent
    for path in root.glob("*.py"):
        text = path.read_text()
        assert not re.search(r"^\s*(from|import)\s+(agent|skills)\b", text, re.M), path.name
