"""Divide a data set into train, validation and test rows."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
from sklearn.model_selection import GroupShuffleSplit, train_test_split

from tailorml.config import SplitConfig
from tailorml.data.dataset import Dataset
from tailorml.errors import ConfigError, DataError

Reader = Callable[[str], pd.DataFrame]


def split_dataset(
    data: Dataset, split: SplitConfig, target: str, classification: bool, read: Reader
) -> dict[str, pd.DataFrame]:
    """Train / validation / test frames as the split config says.

    Args:
        data: rows of the source, with its own split when it has one.
        classification: stratify by ``target`` when the method allows.
        read: reads the extra files named by ``test_file`` / ``validation_file``.

    Returns:
        ``{"train", "test"}`` plus ``"validation"`` when one is asked for.
    """
    train, test = _train_and_test(data, split, target, classification, read)
    frames = {"train": train, "test": test}
    if split.validation_file:
        frames["validation"] = read(split.validation_file)
    elif split.validation_data == "test":
        frames["validation"] = test
    elif split.validation_fraction > 0 and split.group is not None:
        frames["train"], frames["validation"] = _cut_groups(
            train, split.validation_fraction, split.group, split.seed
        )
    elif split.validation_fraction > 0:
        stratify = classification and split.method != "random"
        frames["train"], frames["validation"] = _cut(
            train, split.validation_fraction, target, stratify, split.seed
        )
    for name, frame in frames.items():
        if len(frame) == 0:
            raise DataError(f"the {name} split of '{data.name}' is empty: no rows.")
    return {k: v.reset_index(drop=True) for k, v in frames.items()}


def _train_and_test(
    data: Dataset, split: SplitConfig, target: str, classification: bool, read: Reader
) -> tuple[pd.DataFrame, pd.DataFrame]:
    own = "train" in data.frames and "test" in data.frames
    method = split.method
    if method == "auto":
        method = (
            "fixed" if own or split.test_file else ("stratified" if classification else "random")
        )
    if method == "fixed":
        if split.test_file:
            return _all_rows(data), read(split.test_file)
        if not own:
            raise ConfigError(
                f"data.split.method is 'fixed' but '{data.name}' has no split of its own; "
                "name a data.split.test_file or use method 'random' or 'stratified'."
            )
        return data.frames["train"], data.frames["test"]
    rows = _all_rows(data)
    if split.group is not None:
        return _cut_groups(rows, split.test_fraction, split.group, split.seed)
    return _cut(rows, split.test_fraction, target, method == "stratified", split.seed)


def _all_rows(data: Dataset) -> pd.DataFrame:
    frames = list(data.frames.values())
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def _cut_groups(
    frame: pd.DataFrame, fraction: float, group: str, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split off about ``fraction`` of the groups (at least one), each group whole.

    Raises:
        DataError: the column is missing or holds fewer than two groups.
    """
    if group not in frame.columns:
        raise DataError(f"split.group names column '{group}', which the data does not have.")
    keys = frame[group].astype(str)
    if keys.nunique() < 2:
        raise DataError(f"split.group column '{group}' has {keys.nunique()} value(s); "
                        "a group split needs at least two.")  # fmt: skip
    splitter = GroupShuffleSplit(n_splits=1, test_size=fraction, random_state=seed)
    first, second = next(splitter.split(frame, groups=keys))
    return frame.iloc[sorted(first)], frame.iloc[sorted(second)]


def _cut(
    frame: pd.DataFrame, fraction: float, target: str, stratify: bool, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split off ``fraction`` of the rows, stratified by target when asked."""
    if len(frame) < 2:
        raise DataError(f"only {len(frame)} row(s): too few to split into train and test.")
    labels = None
    if stratify and target in frame.columns:
        classes = frame[target].astype(str)
        labels = classes if classes.value_counts().min() >= 2 else None
    try:
        first, second = train_test_split(
            frame, test_size=fraction, random_state=seed, stratify=labels
        )
    except ValueError as err:
        raise DataError(f"cannot split {len(frame)} rows with fraction {fraction}: {err}") from None
    return first.sort_index(), second.sort_index()
