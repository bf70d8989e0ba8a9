"""Text to token ids with a pretrained checkpoint's own fast tokenizer.

Used for a text feature whose encoder is ``pretrained``: the ids must be the
ones the checkpoint was trained on, so nothing is learnt from the data. The
tokenizer (``tokenizer.json``) and the checkpoint's architecture are kept in
the preprocessor's state, so a saved model tokenizes without the checkpoint.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import torch

from tailorml.errors import ConfigError
from tailorml.features.base import Preprocessor, register_preprocessor
from tailorml.features.checkpoint import architecture_size, checkpoint_folder, read_architecture
from tailorml.features.meta import FeatureMeta


@register_preprocessor
class CheckpointTextPreprocessor(Preprocessor):
    """Right-padded ids ``(N, max_length)`` from the checkpoint's tokenizer.

    Options (from the feature's ``preprocessing`` plus the encoder's
    ``checkpoint``): ``max_length`` counts the special tokens ([CLS], [SEP]);
    ``truncation`` ``right`` keeps a long text's start, ``left`` its end.
    Padding uses the checkpoint's padding id.
    """

    type = "text"
    kind = "text:pretrained"

    def fit(self, column: pd.Series) -> None:
        folder = checkpoint_folder(self.options["checkpoint"])
        architecture = read_architecture(folder)
        positions = architecture_size(architecture, "max_position_embeddings", 512)
        if self.options["max_length"] > positions:
            raise ConfigError(
                f"text feature '{self.name}': preprocessing.max_length "
                f"{self.options['max_length']} exceeds the {positions} positions of checkpoint "
                f"'{self.options['checkpoint']}'."
            )
        tokenizer = (folder / "tokenizer.json").read_text(encoding="utf-8")  # serialised
        self.state = {"tokenizer": tokenizer, "architecture": architecture}

    def reading(self) -> str:
        end = "last" if self.options["truncation"] == "left" else "first"
        return (
            f"it is split into subword tokens by the model's checkpoint tokenizer and its {end} "
            f"{self.options['max_length']} tokens, [CLS] and [SEP] included, are used"
        )

    @cached_property
    def tokenizer(self) -> Any:
        """The fast tokenizer, set to truncate at ``max_length`` and not to pad."""
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_str(self.state["tokenizer"])
        tokenizer.encode_special_tokens = True  # "[PAD]" typed in a text is just text
        tokenizer.no_padding()
        side = "left" if self.options["truncation"] == "left" else "right"
        tokenizer.enable_truncation(self.options["max_length"], direction=side)
        return tokenizer

    def transform(self, column: pd.Series) -> torch.Tensor:
        texts = ["" if pd.isna(v) else str(v) for v in column.astype(object)]
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.full((len(texts), self.options["max_length"]), self.meta().pad_id, np.int64)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
        return torch.from_numpy(ids)  # (N, T)

    def tokens(self, ids: torch.Tensor) -> list[list[str]]:
        pad = self.meta().pad_id
        return [[self.tokenizer.id_to_token(int(i)) for i in row if i != pad] for row in ids]

    def meta(self) -> FeatureMeta:
        architecture, shape = self.state["architecture"], (self.options["max_length"],)
        vocab_size = int(architecture["vocab_size"])
        return FeatureMeta(self.name, self.type, shape, "int64", vocab_size, architecture)
