"""What a model needs to know about one preprocessed feature."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class FeatureMeta:
    """Shape and vocabulary of one feature after preprocessing.

    Attributes:
        name: the column name.
        type: number | category | binary | text | image.
        shape: per-row tensor shape: number/binary ``(1,)``, category ``()``,
            text ``(T,)`` token ids, image ``(C, H, W)``.
        dtype: ``float32`` or ``int64``.
        vocab_size: category/text: number of ids including padding (id 0 for
            text) and the unknown bucket; None otherwise.
        architecture: text tokenized by a pretrained checkpoint: the
            checkpoint's ``config.json``, so a saved model rebuilds its network
            without the checkpoint folder; None otherwise.
    """

    name: str
    type: str
    shape: tuple[int, ...]
    dtype: str
    vocab_size: int | None = None
    architecture: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureMeta:
        return cls(**{**data, "shape": tuple(data["shape"])})

    @property
    def pad_id(self) -> int:
        """The id that pads text rows: 0, or the checkpoint's own padding id."""
        return int((self.architecture or {}).get("pad_token_id") or 0)
