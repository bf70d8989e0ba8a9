"""What a model needs to know about one preprocessed feature."""

from __future__ import annotations

from dataclasses import dataclass

from tailorml.io import JSONObject


@dataclass(frozen=True)
class FeatureMeta:
    """Shape and vocabulary of one feature after preprocessing.

    Attributes:
        name: the column name.
        type: number | category | binary | text | image | audio.
        shape: per-row tensor shape: number/binary ``(1,)``, category ``()``,
            text ``(T,)`` token ids, image ``(C, H, W)``, audio ``(1, T, F)``
            frames × mel bands or coefficients.
        dtype: ``float32`` or ``int64``.
        vocab_size: category/text: number of ids including padding (id 0 for
            text) and the unknown bucket; None otherwise.
        architecture: text tokenized by a pretrained checkpoint: the
            checkpoint's ``config.json``, so a saved model rebuilds its network
            without the checkpoint folder; None otherwise.
        augment: audio: the SpecAugment masks the network applies in
            training (``AudioPreprocessing.spec_augment``); None otherwise.
    """

    name: str
    type: str
    shape: tuple[int, ...]
    dtype: str
    vocab_size: int | None = None
    architecture: JSONObject | None = None
    augment: JSONObject | None = None

    @property
    def pad_id(self) -> int:
        """The id that pads text rows: 0, or the checkpoint's own padding id."""
        pad = (self.architecture or {}).get("pad_token_id")
        return pad if isinstance(pad, int) else 0
