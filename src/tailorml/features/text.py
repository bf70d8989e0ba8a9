"""Text to padded token ids with a vocabulary learnt from training rows."""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pandas as pd
import torch

from tailorml.features.base import Preprocessor, register_preprocessor
from tailorml.features.meta import FeatureMeta

PAD, UNKNOWN = 0, 1
WORD = re.compile(r"[\w']+|[^\w\s]")


@register_preprocessor
class TextPreprocessor(Preprocessor):
    """Word or character tokens; id 0 pads, id 1 stands for unknown tokens."""

    type = "text"

    def tokenize(self, text: str) -> list[str]:
        if self.options["lowercase"]:
            text = text.lower()
        if self.options["tokenizer"] == "char":
            return list(text)
        return WORD.findall(text)

    def _texts(self, column: pd.Series) -> list[str]:
        return ["" if pd.isna(v) else str(v) for v in column.astype(object)]

    def fit(self, column: pd.Series) -> None:
        counts: Counter[str] = Counter()
        for text in self._texts(column):
            counts.update(self.tokenize(text))
        kept = [t for t, c in counts.items() if c >= self.options["min_count"]]
        kept.sort(key=lambda t: (-counts[t], t))
        self.state = {"vocab": ["<pad>", "<unknown>", *kept[: self.options["max_vocab"] - 2]]}

    def index(self) -> dict[str, int]:
        """Token -> id, built once per vocabulary (not once per request)."""
        vocab = self.state["vocab"]
        if getattr(self, "_index_of", None) is not vocab:
            self._index = {t: i for i, t in enumerate(vocab)}
            self._index_of = vocab
        return self._index

    def transform(self, column: pd.Series) -> torch.Tensor:
        index = self.index()
        length = self.options["max_length"]
        ids = np.full((len(column), length), PAD, dtype=np.int64)
        for row, text in enumerate(self._texts(column)):
            tokens = [index.get(t, UNKNOWN) for t in self.tokenize(text)]
            if self.options["truncation"] == "left":
                tokens = tokens[-length:]
            ids[row, : min(len(tokens), length)] = tokens[:length]
        return torch.from_numpy(ids)  # (N, T)

    def tokens(self, ids: torch.Tensor) -> list[list[str]]:
        vocab = self.state["vocab"]
        return [[vocab[int(i)] for i in row if i != PAD] for row in ids]

    def reading(self) -> str:
        end = "last" if self.options["truncation"] == "left" else "first"
        unit = "characters" if self.options["tokenizer"] == "char" else "words"
        return f"its {end} {self.options['max_length']} {unit} are used"

    def meta(self) -> FeatureMeta:
        length = self.options["max_length"]
        return FeatureMeta(self.name, self.type, (length,), "int64", len(self.state["vocab"]))
