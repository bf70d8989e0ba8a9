"""A config's data source read into checked, personal-data-protected splits,
ready for the features to be fitted on the training rows."""

from __future__ import annotations

import pandas as pd

from tailorml.config import ModelConfig
from tailorml.data.dataset import Dataset
from tailorml.data.readers import read_source
from tailorml.data.split import split_dataset
from tailorml.errors import DataError
from tailorml.features.tabular import parse_numbers


def read_splits(
    config: ModelConfig, classification: bool | None = None
) -> tuple[dict[str, pd.DataFrame], int]:
    """Read the source and split it; returns frames and dropped-row count.

    ``classification`` (stratify by the target) defaults to the output type.
    """
    data = config.data

    def load(source: str) -> Dataset:
        return read_source(source, format=data.format, bad_rows=data.bad_rows,
                           encoding=data.encoding, delimiter=data.delimiter,
                           pattern=data.pattern)  # fmt: skip

    def read(source: str) -> pd.DataFrame:
        return pd.concat(list(load(source).frames.values()), ignore_index=True)

    dataset = load(data.source)
    assert data.target is not None
    if classification is None:
        classification = config.output.type not in ("number", "text")
    with_target = not classification and config.output.type != "text"  # a regression
    check_numbers(dataset, config, with_target=with_target)
    if config.output.type == "text":
        check_texts(dataset, [config.input_features[0].name, data.target])
    frames = split_dataset(dataset, data.split, data.target, classification, read)
    return protect(frames, config), dataset.dropped_rows


def check_numbers(dataset: Dataset, config: ModelConfig, with_target: bool) -> None:
    """Refuse text and infinite values in the number columns before the rows
    are split, so that the error names the row of the file, not of a split.

    Args:
        config: names the number input features (and the target).
        with_target: the target is a number too (a regression).

    Raises:
        DataError: naming the file, the column and the first bad rows.
    """
    columns = [f.name for f in config.input_features if f.type == "number"]
    if with_target:
        columns.append(str(config.data.target))
    for frame in dataset.frames.values():
        for name in columns:
            if name not in frame.columns:
                continue
            try:
                parse_numbers(name, frame[name])
            except DataError as err:
                raise DataError(f"data file '{dataset.name}', {err}") from None


def check_texts(dataset: Dataset, columns: list[str]) -> None:
    """Refuse missing or blank texts in a generator's input and target columns
    before the rows are split, naming the rows of the file (1 = first data row).

    Raises:
        DataError: naming the file, the column and the first bad rows.
    """
    for part, frame in dataset.frames.items():
        for name in columns:
            if name not in frame.columns:
                continue
            values = frame[name]
            blank = (values.isna() | values.astype(str).str.strip().eq("")).to_numpy()
            rows = [int(i) + 1 for i in blank.nonzero()[0]]
            if rows:
                where = f"'{dataset.name}'" + (f" ({part} part)" if part != "all" else "")
                more = f" and {len(rows) - 10} more" if len(rows) > 10 else ""
                raise DataError(
                    f"data file {where}, column '{name}': empty text in row(s) "
                    f"{', '.join(map(str, rows[:10]))}{more}; a generator learns from pairs "
                    "of non-empty texts. Fill or remove those rows."
                )


def protect(frames: dict[str, pd.DataFrame], config: ModelConfig) -> dict[str, pd.DataFrame]:
    """Apply the config's personal-data policy to every split, before training.

    Raises:
        DataError: the policy is ``fail`` and personal data was found, or
            ``drop_column`` dropped a column an input feature needs.
    """
    policy = config.data.pii
    if policy == "allow":
        return frames
    from tailorml.data.pii import apply_policy  # presidio loads in seconds: only when asked

    protected = {name: apply_policy(frame, policy, config.data.pii_columns)[0]
                 for name, frame in frames.items()}  # fmt: skip
    needed = {f.name for f in config.input_features} | {config.output.name}
    for name, frame in protected.items():
        lost = sorted((needed & set(frames[name].columns)) - set(frame.columns))
        if lost:
            raise DataError(
                f"column(s) {', '.join(map(repr, lost))} hold personal data in the {name} split "
                "and data.pii is drop_column; remove them from the features or use pii: redact."
            )
    return protected
