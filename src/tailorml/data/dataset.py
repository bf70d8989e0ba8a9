"""The rows a source holds, before features are made from them."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd


@dataclass
class Dataset:
    """Rows read from one source.

    Attributes:
        name: where the rows came from (a path or ``builtin:NAME``).
        frames: the source's rows. A source with its own split (built-in data
            sets, MNIST IDX train/test files) gives ``{"train": ..., "test":
            ...}``; any other source gives ``{"all": ...}``.
        dropped_rows: rows that could not be parsed and were dropped because
            the config said ``bad_rows: drop``.
    """

    name: str
    frames: dict[str, pd.DataFrame]
    dropped_rows: int = 0
    notes: list[str] = field(default_factory=list)
