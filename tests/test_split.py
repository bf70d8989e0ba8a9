"""Train / validation / test splits."""

from __future__ import annotations

import pandas as pd
import pytest

from tailorml.config import SplitConfig
from tailorml.data.dataset import Dataset
from tailorml.data.split import split_dataset
from tailorml.errors import ConfigError, DataError


def rows(n: int = 200) -> Dataset:
    frame = pd.DataFrame({"x": range(n), "y": ["a" if i % 4 else "b" for i in range(n)]})
    return Dataset("t.csv", {"all": frame})


def no_files(path: str) -> pd.DataFrame:
    raise AssertionError(f"unexpected read of {path}")


def test_stratified_split_keeps_class_shares_and_is_seeded() -> None:
    split = SplitConfig(method="stratified", test_fraction=0.2, validation_fraction=0.1)
    first = split_dataset(rows(), split, "y", True, no_files)
    again = split_dataset(rows(), split, "y", True, no_files)
    assert {k: len(v) for k, v in first.items()} == {"train": 144, "validation": 16, "test": 40}
    assert (first["test"]["y"] == "b").mean() == pytest.approx(0.25)
    assert all(first[k].equals(again[k]) for k in first)
    seen = pd.concat(first.values())["x"]
    assert sorted(seen) == list(range(200))  # every row lands in exactly one split


def test_auto_uses_the_sources_own_split() -> None:
    data = rows()
    frames = data.frames["all"]
    own = Dataset("builtin:x", {"train": frames[:150], "test": frames[150:]})
    out = split_dataset(own, SplitConfig(validation_fraction=0.0), "y", True, no_files)
    assert len(out["train"]) == 150 and len(out["test"]) == 50 and "validation" not in out


def test_validation_data_test_reuses_the_test_rows() -> None:
    split = SplitConfig(validation_data="test", validation_fraction=0.0)
    out = split_dataset(rows(), split, "y", True, no_files)
    assert out["validation"].equals(out["test"])


def test_fixed_files_are_read() -> None:
    extra = pd.DataFrame({"x": [1, 2], "y": ["a", "b"]})
    out = split_dataset(
        rows(), SplitConfig(test_file="test.csv", validation_fraction=0.0), "y", True,
        lambda path: extra,
    )  # fmt: skip
    assert len(out["train"]) == 200 and out["test"].equals(extra)


def test_fixed_without_a_split_or_file_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="no split of its own"):
        split_dataset(rows(), SplitConfig(method="fixed"), "y", True, no_files)


def test_too_few_rows() -> None:
    with pytest.raises(DataError, match="too few"):
        split_dataset(rows(1), SplitConfig(), "y", True, no_files)


def test_group_split_keeps_each_speaker_on_one_side() -> None:
    frame = pd.DataFrame({"x": range(120), "y": ["a", "b"] * 60,
                          "speaker": [f"s{i % 6}" for i in range(120)]})  # fmt: skip
    own = Dataset("builtin:voices", {"train": frame[:100], "test": frame[100:]})
    split = SplitConfig(method="group", group="speaker", test_fraction=0.2)
    out = split_dataset(own, split, "y", True, no_files)
    speakers = {name: set(part["speaker"]) for name, part in out.items()}
    assert not speakers["test"] & (speakers["train"] | speakers["validation"])
    assert not speakers["train"] & speakers["validation"]
    assert sorted(pd.concat(out.values())["x"]) == list(range(120))
    again = split_dataset(own, split, "y", True, no_files)
    assert all(out[k].equals(again[k]) for k in out)


def test_group_split_errors_name_the_column() -> None:
    with pytest.raises(ValueError, match="split.group"):
        SplitConfig(method="group")
    with pytest.raises(ValueError, match="split.group"):
        SplitConfig(method="random", group="speaker")
    split = SplitConfig(method="group", group="speaker")
    with pytest.raises(DataError, match="'speaker'"):
        split_dataset(rows(), split, "y", True, no_files)
