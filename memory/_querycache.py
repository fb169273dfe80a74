"""A small LRU cache of query embeddings: a repeated query (a retry, the prompt's memory section and the
model's own search, the same question from many runs) costs no model call."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from memory._embedder import EmbedderId

MAX_QUERIES = 2048


class QueryCache:
    def __init__(self, size: int = MAX_QUERIES) -> None:
        self.size = size
        self.hits = 0
        self.misses = 0
        self._items: OrderedDict[tuple[EmbedderId, str], np.ndarray] = OrderedDict()

    def get(self, embedder: EmbedderId, text: str) -> np.ndarray | None:
        vector = self._items.get((embedder, text))
        if vector is None:
            self.misses += 1
            return None
        self._items.move_to_end((embedder, text))
        self.hits += 1
        return vector

    def put(self, embedder: EmbedderId, text: str, vector: np.ndarray) -> None:
        self._items[(embedder, text)] = vector
        self._items.move_to_end((embedder, text))
        while len(self._items) > self.size:
            self._items.popitem(last=False)
