"""Baselines a generator must beat: copy the source, or retrieve the answer of
the most similar training source.

``copy`` is the floor for tasks where output resembles input (translation of
names, numbers and placeholders; paraphrase). ``retrieval`` is a translation
memory / FAQ lookup: TF-IDF over character n-grams (scikit-learn), cosine
similarity, the nearest training pair's target. Neither has parameters to
train or token probabilities; tokens are whitespace words.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import ConfigDict, Field
from sklearn.feature_extraction.text import TfidfVectorizer

from tailorml.config import GenerationConfig, GeneratorConfig, ModelConfig
from tailorml.io import JSONObject, atomic_write_json, read_json
from tailorml.models.generation.base import (
    FitFigures,
    Generated,
    Generator,
    Pairs,
    Proposal,
    check_pairs,
    overlong,
    register_generator,
)


def words(text: str) -> list[str]:
    return text.split()


def clip_words(text: str, limit: int) -> tuple[str, bool]:
    """``text`` cut to its first ``limit`` words, and whether it was cut."""
    pieces = words(text)
    return (" ".join(pieces[:limit]), True) if len(pieces) > limit else (text, False)


def word_limits(train: Pairs, limits: GenerationConfig) -> FitFigures:
    """Checked training pairs, and how many are over the limits in words."""
    check_pairs(train, "training")
    return FitFigures(
        truncated_sources=overlong([len(words(s)) for s in train.sources],
                                   limits.max_source_tokens, "source", limits),
        truncated_targets=overlong([len(words(t)) for t in train.targets],
                                   limits.max_target_tokens, "target", limits),
    )  # fmt: skip


class CopyOptions(GeneratorConfig):
    """Options of the ``copy`` baseline (none besides the name)."""

    model_config = ConfigDict(extra="forbid")
    name: Literal["copy"] = "copy"


@register_generator("copy", CopyOptions)
class CopyGenerator(Generator):
    """Writes the source back (cut to ``max_target_tokens`` words)."""

    def fit(self, train: Pairs, validation: Pairs | None, quiet: bool = True) -> FitFigures:
        return word_limits(train, self.limits)

    @classmethod
    def proposals(cls, budget_s: float, rows: int) -> list[Proposal]:
        return [Proposal("copy", {"name": "copy"}, {}, "copy: the floor — the input written back")]

    def generate(
        self, sources: list[str], decoding: GenerationConfig | None = None
    ) -> list[Generated]:
        out = []
        for source in sources:
            read, cut = clip_words(source, self.limits.max_source_tokens)
            text = clip_words(read, self.limits.max_target_tokens)[0]
            out.append(Generated(text, len(words(text)), cut))
        return out

    def save(self, folder: Path) -> JSONObject:
        return {}

    def load(self, folder: Path, state: JSONObject) -> None:
        return None


class RetrievalOptions(GeneratorConfig):
    """Options of the ``retrieval`` baseline."""

    model_config = ConfigDict(extra="forbid")
    name: Literal["retrieval"] = "retrieval"
    shortest: int = Field(default=2, ge=1, description="Shortest character n-gram compared.")
    longest: int = Field(default=4, ge=1, description="Longest character n-gram compared.")


@register_generator("retrieval", RetrievalOptions)
class RetrievalGenerator(Generator):
    """The target of the training pair whose source is nearest (TF-IDF cosine)."""

    FILE = "retrieval.json"

    def __init__(self, config: ModelConfig):
        super().__init__(config)
        self.pairs = Pairs([], [])
        self.vectorizer: TfidfVectorizer | None = None
        self.matrix: object = None

    def fit(self, train: Pairs, validation: Pairs | None, quiet: bool = True) -> FitFigures:
        figures = word_limits(train, self.limits)
        self._index(train)
        return figures

    @classmethod
    def proposals(cls, budget_s: float, rows: int) -> list[Proposal]:
        reason = "retrieval: the nearest training input's target (a translation memory)"
        return [Proposal("retrieval", {"name": "retrieval"}, {}, reason)]

    def _index(self, pairs: Pairs) -> None:
        assert isinstance(self.options, RetrievalOptions)
        self.pairs = pairs
        self.vectorizer = TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=(self.options.shortest, self.options.longest),
            sublinear_tf=True,
        )
        self.matrix = self.vectorizer.fit_transform(pairs.sources)

    def generate(
        self, sources: list[str], decoding: GenerationConfig | None = None
    ) -> list[Generated]:
        assert self.vectorizer is not None, "fit or load the retrieval generator first"
        read = [clip_words(s, self.limits.max_source_tokens) for s in sources]
        queries = self.vectorizer.transform([text for text, _ in read])
        nearest = np.asarray((queries @ self.matrix.T).argmax(axis=1)).ravel()  # type: ignore[attr-defined]
        out = []
        for (_, cut), index in zip(read, nearest, strict=True):
            text = clip_words(self.pairs.targets[int(index)], self.limits.max_target_tokens)[0]
            out.append(Generated(text, len(words(text)), cut))
        return out

    def save(self, folder: Path) -> JSONObject:
        atomic_write_json(folder / self.FILE, {"sources": self.pairs.sources,
                                               "targets": self.pairs.targets})  # fmt: skip
        return {"pairs": len(self.pairs)}

    def load(self, folder: Path, state: JSONObject) -> None:
        data = read_json(folder / self.FILE)
        if not isinstance(data, dict):
            raise ValueError(f"{self.FILE} holds no pairs")
        pairs = Pairs([str(s) for s in data["sources"]], [str(t) for t in data["targets"]])
        if len(pairs) != state.get("pairs"):
            raise ValueError(
                f"{self.FILE} holds {len(pairs)} pairs, model.json says {state.get('pairs')}"
            )
        self._index(pairs)

    def size(self) -> int:
        return len(self.pairs)
