"""A learned intent model: one-vs-rest logistic regression over character n-grams and words.

The overlap model (`skills._examples`) needs a prompt to share whole words with an example; a new phrasing
rarely does ("walk the team through the numbers" vs "present the figures"). A linear classifier over
character n-grams sees parts of words (present/presentation, 資料/説明資料) and learns which of them tell
the skills apart, from every example at once, instead of asking for a near neighbour. Character n-grams need
no tokenizer, so Japanese works as English does.

Each skill with enough examples is one class, everyday talk (`skills._background`) one more. Training is
full-batch gradient descent from zero weights, so the same examples always give the same model; it runs in
numpy (scikit-learn would cost a second of import for twenty lines of arithmetic) and is cached per catalog.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import itertools
import json
import math
import os
import re
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from skills._background import NO_SKILL, background
from skills._text import WORD, normalize, stem

MIN_EXAMPLES = 8
"""A skill with fewer examples is left to its triggers and the overlap model: a class learnt from a handful
of sentences is mostly their topics."""
MIN_WORDS = 4.0
"""A request that describes its task without naming it takes a few words; on "go on", "the projector" or
"続けて" the model has seen a few n-grams in every class, and their sum is noise. Japanese has no spaces:
two characters count as a word."""
MIN_SUPPORT = 2
L2 = 1e-4
STEPS = 60
RATE = 16.0
MOMENTUM = 0.9
_LATIN = re.compile(r"[a-z0-9]+")
_JA_RUN = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uff66-\uff9f々ー]+")

Floats = npt.NDArray[np.floating[Any]]


def features(text: str) -> list[str]:
    """Word unigrams and bigrams (stemmed, filler kept: "what is" says small talk), character 3–4-grams of
    Latin words (with their edges), character 1–3-grams of Japanese runs."""
    norm = normalize(text)
    tokens = [stem(w) for w in WORD.findall(norm.replace("-", " "))]
    found = {f"w {t}" for t in tokens}
    found.update(f"b {a} {b}" for a, b in itertools.pairwise(tokens))
    for word in _LATIN.findall(norm):
        padded = f"<{word}>"
        for n in (3, 4):
            found.update(f"c {padded[i : i + n]}" for i in range(len(padded) - n + 1))
    for run in _JA_RUN.findall(norm):
        padded = f"<{run}>"
        found.update(f"j {run[i]}" for i in range(len(run)) if not ("\u3040" <= run[i] <= "\u309f"))
        for n in (2, 3):
            found.update(f"j {padded[i : i + n]}" for i in range(len(padded) - n + 1))
    return sorted(found)


def length_in_words(text: str) -> float:
    norm = normalize(text)
    return len(WORD.findall(norm)) + sum(len(run) for run in _JA_RUN.findall(norm)) / 2


class Classifier:
    """Probabilities per class for one text. `classes` includes NO_SKILL."""

    def __init__(self, classes: list[str], vocabulary: dict[str, int], weights: Floats, bias: Floats) -> None:
        self.classes, self.vocabulary, self.weights, self.bias = classes, vocabulary, weights, bias
        self._recent: dict[str, dict[str, float]] | None = None

    def for_one_selection(self) -> Classifier:
        """The same model (weights shared, not copied) with its own memo of texts read: one selection reads
        a message and its clauses more than once (the passing-word check, then the stand-ins). The shared
        model keeps no memo (threads share it, and a memo across runs would flatter the benchmarks)."""
        view = Classifier(self.classes, self.vocabulary, self.weights, self.bias)
        view._recent = {}
        return view

    def probabilities(self, text: str) -> dict[str, float]:
        """Per class; empty for a text too short to describe a task ("go on", "続けて"): the model has
        seen a few of its n-grams in every class, and their sum is noise."""
        if self._recent is None:
            return self._probabilities(text)
        found = self._recent.get(text)
        if found is None:
            found = self._recent[text] = self._probabilities(text)
        return dict(found)

    def _probabilities(self, text: str) -> dict[str, float]:
        if length_in_words(text) < MIN_WORDS:
            return {}
        feats = features(text)
        ids = [self.vocabulary[f] for f in feats if f in self.vocabulary]
        if not ids:
            return {}
        logits = np.take(self.weights, ids, axis=0).sum(axis=0) / math.sqrt(len(feats)) + self.bias
        return {
            label: float(1.0 / (1.0 + math.exp(-z))) for label, z in zip(self.classes, logits, strict=True)
        }


def train(examples: Sequence[tuple[str, str]]) -> Classifier:
    """Fits the model; deterministic (full batch, zero start, fixed steps), so equal examples give equal weights."""
    classes: list[str] = sorted({label for label, _ in examples})
    column = {label: i for i, label in enumerate(classes)}
    featured = [(column[label], features(text)) for label, text in examples]
    # A feature of one example only is that example's topic ("heat pumps"); it would let the model
    # memorise the example instead of learning how people ask.
    seen: dict[str, int] = {}
    for _, feats in featured:
        for feat in feats:
            seen[feat] = seen.get(feat, 0) + 1
    vocabulary = {f: i for i, f in enumerate(sorted(f for f, n in seen.items() if n >= MIN_SUPPORT))}
    rows = [([vocabulary[f] for f in feats if f in vocabulary], len(feats)) for _, feats in featured]
    labels = [label for (label, _), (ids, _) in zip(featured, rows, strict=True) if ids]
    sizes = [len(ids) for ids, _ in rows if ids]
    n, width, count = len(labels), len(vocabulary), len(classes)
    indptr = np.zeros(n + 1, dtype=np.int64)
    indptr[1:] = np.cumsum(sizes)
    indices = np.fromiter((i for ids, _ in rows for i in ids), dtype=np.int64, count=int(indptr[-1]))
    # Scaled as at prediction: by the text's own feature count, known or not.
    values = np.repeat(1.0 / np.sqrt([total for ids, total in rows if ids]), sizes).astype(np.float32)
    row_of = np.repeat(np.arange(n), sizes)
    # (np.take, not fancy indexing: several times faster for row gathers.) X transposed (for the gradient): every vocabulary feature occurs at least once, so the runs of
    # the sorted column ids are exactly the features 0..width-1.
    order = np.argsort(indices, kind="stable")
    starts = np.flatnonzero(np.r_[True, indices[order][1:] != indices[order][:-1]])
    rows_sorted, values_sorted = row_of[order], values[order][:, None]
    target = np.zeros((n, count), dtype=np.float32)
    target[np.arange(n), labels] = 1.0
    # Each class's positives and negatives weigh half of the loss each: one skill's 100 examples are not
    # drowned by the other 1,000. Within each half, every language weighs the same, so more English
    # examples do not thin out the Japanese ones (training stops after a fixed number of steps: a lighter
    # example moves its weights less).
    japanese = np.array(
        [bool(_JA_RUN.search(text)) for (_, text), (ids, _) in zip(examples, rows, strict=True) if ids]
    )
    weight = np.zeros((n, count), dtype=np.float32)
    languages = [language for language in (japanese, ~japanese) if language.any()]
    for language in languages:
        share = 0.5 / len(languages)
        positives = target[language].sum(axis=0)
        negatives = language.sum() - positives
        weight[language] = np.where(
            target[language] > 0, share / np.maximum(positives, 1), share / np.maximum(negatives, 1)
        )
    weights: Floats = np.zeros((width, count), dtype=np.float32)
    bias: Floats = np.zeros(count, dtype=np.float32)
    moment: Floats = np.zeros_like(weights)
    bias_moment: Floats = np.zeros_like(bias)
    for _ in range(STEPS):  # Nesterov momentum from zero: the loss is smooth and convex
        look = weights + MOMENTUM * moment
        logits = np.add.reduceat(np.take(look, indices, axis=0) * values[:, None], indptr[:-1], axis=0)
        logits += bias + MOMENTUM * bias_moment
        error = (1.0 / (1.0 + np.exp(-logits)) - target) * weight
        grad = np.add.reduceat(np.take(error, rows_sorted, axis=0) * values_sorted, starts, axis=0)
        grad += L2 * look
        moment = MOMENTUM * moment - RATE * grad
        bias_moment = MOMENTUM * bias_moment - RATE * error.sum(axis=0)
        weights += moment
        bias += bias_moment
    return Classifier(classes, vocabulary, weights, bias)


_LOCK = threading.Lock()
SkillTexts = tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...]


def classifier_for(skills: SkillTexts) -> Classifier | None:
    """One training at a time: a run that needs the model while the server's warm-up trains it waits for
    that training instead of starting a second one."""
    with _LOCK:
        return _classifier_for(skills)


def warm_up(skills: SkillTexts) -> threading.Thread:
    """Loads or trains the model in a daemon thread, so neither the server's start nor the first run
    waits for it."""
    thread = threading.Thread(target=classifier_for, args=(skills,), name="skills-intent-warmup", daemon=True)
    thread.start()
    return thread


@functools.lru_cache(maxsize=8)
def _classifier_for(skills: SkillTexts) -> Classifier | None:
    """(skill key, examples, definitions) → one model per distinct catalog; None when no skill has enough
    examples. A trained skill's description and triggers are training texts too: they are how the skill's
    author says people ask for it. The fitted model is kept on disk by the hash of what it learnt from, so
    a new process (a one-shot `agent run`) loads it in milliseconds instead of training again."""
    trained = [(key, (*texts, *defs)) for key, texts, defs in skills if len(texts) >= MIN_EXAMPLES]
    if not trained:
        return None
    examples = [
        *((key, text) for key, texts in trained for text in texts),
        *((NO_SKILL, text) for text in background()),
    ]
    path = _cache_path(examples)
    cached = _load(path) if path is not None else None
    if cached is not None:
        return cached
    model = train(examples)
    if path is not None:
        _save(model, path)
    return model


CACHE_KEEP = 8
MODEL_VERSION = "2"
"""Part of the cache key: bump it when `features` or `train` change what a model is."""


def _cache_path(examples: Sequence[tuple[str, str]]) -> Path | None:
    """`$SKILLS_CACHE_DIR` (empty: no disk cache), else `$XDG_CACHE_HOME/agent-skills`, else
    `~/.cache/agent-skills`."""
    root = os.environ.get("SKILLS_CACHE_DIR")
    if root == "":
        return None
    if root is None:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = os.path.join(base, "agent-skills")
    digest = hashlib.sha256(
        json.dumps([MODEL_VERSION, MIN_SUPPORT, L2, STEPS, RATE, MOMENTUM, examples]).encode()
    ).hexdigest()
    return Path(root) / f"intent-{digest[:32]}.npz"


def _load(path: Path) -> Classifier | None:
    """A cached model, or None when it is missing or unreadable (then it is trained again)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            classes = [str(c) for c in data["classes"]]
            vocabulary = {str(f): i for i, f in enumerate(data["vocabulary"])}
            weights, bias = data["weights"], data["bias"]
    except (OSError, KeyError, ValueError):
        return None
    if weights.shape != (len(vocabulary), len(classes)) or bias.shape != (len(classes),):
        return None
    return Classifier(classes, vocabulary, weights, bias)


def _save(model: Classifier, path: Path) -> None:
    """Best effort and atomic (write, then rename): a read-only or full disk only costs the next process a
    training."""
    vocabulary = sorted(model.vocabulary, key=model.vocabulary.__getitem__)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as handle:
            np.savez(
                handle,
                classes=np.array(model.classes),
                vocabulary=np.array(vocabulary),
                weights=model.weights,
                bias=model.bias,
            )
        os.replace(handle.name, path)
        # Every change of examples leaves a model behind: keep the newest few.
        kept = sorted(path.parent.glob("intent-*.npz"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in kept[CACHE_KEEP:]:
            old.unlink(missing_ok=True)
    except OSError:
        with contextlib.suppress(OSError, UnboundLocalError):
            os.unlink(handle.name)
