"""Tests for the data layer: built-in data sets, file readers and fetching."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import importlib
import json
import re
import shutil
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from tailorml.config import SplitConfig
from tailorml.data import BUILTIN_NAMES, Dataset, fetch, load_builtin, read_source
from tailorml.data import builtin as builtin_module
from tailorml.data.builtin import text_bucket
from tailorml.data.fetch import RemoteDataset, RemoteFile
from tailorml.data.readers import (
    read_csv,
    read_idx,
    read_idx_pair,
    read_image_folder,
    read_parquet,
)
from tailorml.data.split import split_dataset
from tailorml.errors import DataError

# tailorml.data.fetch is the function (re-exported by the package); get the module itself.
fetch_module = importlib.import_module("tailorml.data.fetch")

ADULT_COLUMNS = [
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education_num",
    "marital_status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital_gain",
    "capital_loss",
    "hours_per_week",
    "native_country",
    "income",
]
GERMAN_COLUMNS = [
    "status",
    "duration",
    "credit_history",
    "purpose",
    "credit_amount",
    "savings",
    "employment_since",
    "installment_rate",
    "personal_status_sex",
    "other_debtors",
    "residence_since",
    "property",
    "age",
    "other_installment_plans",
    "housing",
    "existing_credits",
    "job",
    "people_liable",
    "telephone",
    "foreign_worker",
    "credit_risk",
]


# ------------------------------------------------------------------ built-ins


def test_builtin_names() -> None:
    assert BUILTIN_NAMES == (
        "mnist",
        "adult",
        "german_credit",
        "sentiment",
        "fsdd",
        "django_fr",
        "mnist_full",
        "adult_full",
    )


def test_mnist_builtin_split_and_arrays() -> None:
    data = load_builtin("mnist")
    assert isinstance(data, Dataset) and data.name == "builtin:mnist"
    train, test = data.frames["train"], data.frames["test"]
    assert (len(train), len(test)) == (4000, 1000)
    assert list(train.columns) == ["image", "label"]
    assert train["label"].dtype == np.int64
    image = train["image"][0]
    assert isinstance(image, np.ndarray) and image.shape == (28, 28) and image.dtype == np.uint8
    assert image.max() > 0
    # The subset has 500 of each digit; the split is a fixed permutation with seed 0.
    counts = pd.concat([train["label"], test["label"]]).value_counts()
    assert sorted(counts.index) == list(range(10)) and set(counts) == {500}
    again = load_builtin("mnist").frames["train"]
    assert again["label"].tolist() == train["label"].tolist()
    assert np.array_equal(again["image"][123], train["image"][123])


def test_adult_builtin_columns_labels_and_missing() -> None:
    frames = load_builtin("adult").frames
    train, test = frames["train"], frames["test"]
    assert (len(train), len(test)) == (32561, 16281)
    assert list(train.columns) == ADULT_COLUMNS and list(test.columns) == ADULT_COLUMNS
    assert set(train["income"]) == {"<=50K", ">50K"}
    assert set(test["income"]) == {"<=50K", ">50K"}
    assert test["income"].value_counts().to_dict() == {"<=50K": 12435, ">50K": 3846}
    for column in ("age", "fnlwgt", "education_num", "capital_gain", "hours_per_week"):
        assert train[column].dtype == np.int64
    assert train.loc[0, "workclass"] == "State-gov"  # leading space stripped
    assert train["workclass"].isna().sum() == 1836  # '?' became missing
    assert not (train["occupation"] == "?").any()
    assert test.loc[0, "age"] == 25  # the junk first line was skipped


def test_german_credit_builtin_is_decoded() -> None:
    frame = load_builtin("german_credit").frames["all"]
    assert len(frame) == 1000
    assert list(frame.columns) == GERMAN_COLUMNS
    assert frame["credit_risk"].value_counts().to_dict() == {"good": 700, "bad": 300}
    assert frame.loc[0, "status"] == "... < 0 DM"
    assert frame.loc[0, "purpose"] == "radio/television"
    assert set(frame["telephone"]) == {"yes", "no"}
    assert frame["credit_amount"].dtype == np.int64
    assert not frame.isna().any().any()
    assert not frame.astype(str).apply(lambda c: c.str.fullmatch(r"A\d+")).any().any()


def test_sentiment_builtin() -> None:
    frame = load_builtin("sentiment").frames["all"]
    assert len(frame) == 38158
    assert list(frame.columns) == ["text", "sentiment", "confidence"]
    assert set(frame["sentiment"]) == {"negative", "neutral", "positive"}
    assert frame["confidence"].dtype == np.float64
    assert frame["confidence"].dropna().between(0, 1).all()
    assert frame.loc[1, "text"] == "self-driving cars just seem lazy and a waste of money"
    assert frame["text"].notna().all()


DJANGO_CATALOGS = {
    "core", "admin", "admindocs", "auth", "contenttypes", "flatpages", "gis", "humanize",
    "postgres", "redirects", "sessions", "sites",
}  # fmt: skip
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%[sd]|\{\w*\}")


def test_django_fr_builtin_pairs() -> None:
    data = read_source("builtin:django_fr")
    assert data.name == "builtin:django_fr" and set(data.frames) == {"train", "test"}
    frame = pd.concat([data.frames["train"], data.frames["test"]], ignore_index=True)
    assert len(frame) == 837
    assert list(frame.columns) == ["english", "french", "catalog"]
    assert set(frame["catalog"]) == DJANGO_CATALOGS
    for column in ("english", "french"):
        assert frame[column].map(type).eq(str).all()
        assert frame[column].str.strip().ne("").all()
    assert frame["english"].is_unique
    assert not frame["english"].str.contains("\x04").any()  # gettext contexts stripped
    pairs = dict(zip(frame["english"], frame["french"], strict=True))
    assert pairs["Save"] == "Enregistrer"
    assert pairs["Log out"] == "Déconnexion"
    assert pairs["May"] == "mai"  # the entry without a context wins over "abbrev. month"
    assert pairs["(Hidden field %(name)s) %(error)s"] == "(champ masqué %(name)s) %(error)s"
    assert pairs["Added {name} “{object}”."] == "Ajout de {name} «\xa0{object}\xa0»."
    for english, french in pairs.items():  # every placeholder survives translation
        assert sorted(PLACEHOLDER.findall(english)) == sorted(PLACEHOLDER.findall(french))


def test_django_fr_split_is_fixed_by_text_hash() -> None:
    frames = load_builtin("django_fr").frames
    train, test = frames["train"], frames["test"]
    assert (len(train), len(test)) == (744, 93)
    assert test["english"].map(lambda text: text_bucket(text, 10)).eq(0).all()
    assert train["english"].map(lambda text: text_bucket(text, 10)).ne(0).all()
    assert text_bucket("Save", 10) == int(hashlib.sha256(b"Save").hexdigest()[:16], 16) % 10
    again = load_builtin("django_fr").frames
    pd.testing.assert_frame_equal(again["train"], train)
    pd.testing.assert_frame_equal(again["test"], test)

    # method auto keeps the set's own test rows and takes validation rows from train
    def no_extra_files(source: str) -> pd.DataFrame:
        raise AssertionError(f"the split read '{source}'")

    split = split_dataset(load_builtin("django_fr"), SplitConfig(), "french", False, no_extra_files)
    assert {name: len(rows) for name, rows in split.items()} == {
        "train": 669,
        "validation": 75,
        "test": 93,
    }
    pd.testing.assert_frame_equal(split["test"], test)
    held = set(split["train"]["english"]) | set(split["validation"]["english"])
    assert held == set(train["english"])


def test_django_fr_file_matches_manifest_and_licence() -> None:
    files_dir = builtin_module.FILES_DIR
    manifest = json.loads((files_dir / "MANIFEST.json").read_text())["files"]
    raw = (files_dir / "django_fr.csv.gz").read_bytes()
    assert manifest["django_fr.csv.gz"] == {
        "sha256": hashlib.sha256(raw).hexdigest(),
        "bytes": len(raw),
    }
    licences = (files_dir / "LICENSES.md").read_text()
    section = licences[licences.index("## django_fr") :]
    assert "django-5.2.20-py3-none-any.whl" in section and "BSD-3-Clause" in section
    assert "Copyright (c) Django Software Foundation and individual contributors." in section
    assert "3. Neither the name of Django nor the names of its contributors" in section


def test_read_source_builtin_prefix() -> None:
    data = read_source("builtin:german_credit")
    assert data.name == "builtin:german_credit" and len(data.frames["all"]) == 1000


def test_unknown_builtin_suggests_name() -> None:
    with pytest.raises(DataError, match=r"Did you mean 'mnist'\?.*german_credit"):
        load_builtin("mnsit")


def test_manifest_lists_every_compact_file_and_they_are_small() -> None:
    files_dir = builtin_module.FILES_DIR
    manifest = json.loads((files_dir / "MANIFEST.json").read_text())
    data_files = {p.name for p in files_dir.iterdir()} - {"MANIFEST.json", "LICENSES.md"}
    assert set(manifest["files"]) == data_files
    # FSDD's 2,400 clips as lossless FLAC are 9.2 MB of it; no file reaches 10 MB
    assert sum((files_dir / name).stat().st_size for name in data_files) < 14_000_000
    assert max((files_dir / name).stat().st_size for name in data_files) < 10_000_000
    assert "CC BY-SA 3.0" in (files_dir / "LICENSES.md").read_text()


def test_corrupt_compact_file_fails_sha_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "files"
    shutil.copytree(builtin_module.FILES_DIR, copy)
    target = copy / "german_credit.csv.gz"
    raw = bytearray(target.read_bytes())
    raw[-10] ^= 0xFF
    target.write_bytes(bytes(raw))
    monkeypatch.setattr(builtin_module, "FILES_DIR", copy)
    with pytest.raises(DataError, match=r"german_credit\.csv\.gz.*SHA-256.*corrupt"):
        load_builtin("german_credit")
    assert len(load_builtin("mnist").frames["train"]) == 4000  # other files still load


# ------------------------------------------------------------------------ CSV


def write(path: Path, data: str | bytes) -> Path:
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def test_read_csv_clean(tmp_path: Path) -> None:
    path = write(tmp_path / "t.csv", "x,y,name\n1,2.5,a\n3,4.5,b\n")
    frame, dropped = read_csv(path, bad_rows="fail")
    assert dropped == 0
    assert frame["x"].tolist() == [1, 3] and frame["y"].dtype == np.float64


def test_ragged_row_fails_naming_the_line(tmp_path: Path) -> None:
    path = write(tmp_path / "t.csv", "x,y\n1,2\n3,4,5\n6,7\n")
    with pytest.raises(DataError, match=r"t\.csv', line 3: expected 2 fields .* saw 3"):
        read_csv(path, bad_rows="fail")


def test_short_row_fails_too(tmp_path: Path) -> None:
    # pandas would silently pad this row with NaN.
    path = write(tmp_path / "t.csv", "x,y,z\n1,2,3\n4,5\n")
    with pytest.raises(DataError, match=r"line 3: expected 3 fields .* saw 2"):
        read_csv(path, bad_rows="fail")


def test_line_numbers_count_physical_lines(tmp_path: Path) -> None:
    text = 'id,text\n1,"two\nlines"\n\n2,ok\n3,bad,row\n'
    path = write(tmp_path / "t.csv", text)
    with pytest.raises(DataError, match=r"line 6: expected 2 fields"):
        read_csv(path, bad_rows="fail")
    leading_blank = write(tmp_path / "b.csv", "\na,b\n1,2\n3\n")
    with pytest.raises(DataError, match=r"line 4: expected 2 fields .* saw 1"):
        read_csv(leading_blank)


def test_unclosed_quote_and_repeated_column(tmp_path: Path) -> None:
    path = write(tmp_path / "t.csv", 'a,b\n1,2\n3,"open\n4,5\n')
    with pytest.raises(DataError, match=r"line 3: a quoted field opens here and never closes"):
        read_csv(path)
    with pytest.raises(DataError, match=r"line 1: .*column 'a' more than once"):
        read_csv(write(tmp_path / "d.csv", "a,b,a\n1,2,3\n"))


def test_drop_mode_counts_and_notes_dropped_rows(tmp_path: Path) -> None:
    path = write(tmp_path / "t.csv", "x,y\n1,2\n3,4,5\n6,7\n8\n9,10\n")
    frame, dropped = read_csv(path, bad_rows="drop")
    assert dropped == 2
    assert frame["x"].tolist() == [1, 6, 9]
    data = read_source(str(path), bad_rows="drop")
    assert data.dropped_rows == 2
    assert any("lines 3, 5" in note for note in data.notes)


def test_undecodable_bytes(tmp_path: Path) -> None:
    path = write(tmp_path / "t.csv", b"name,n\ncaf\xe9,1\nok,2\n")
    with pytest.raises(DataError, match=r"line 2: .*byte 0xe9.*not valid utf-8.*latin-1"):
        read_csv(path)
    frame, dropped = read_csv(path, bad_rows="drop")
    assert (dropped, frame["name"].tolist()) == (1, ["ok"])
    frame, dropped = read_csv(path, encoding="latin-1")
    assert (dropped, frame["name"].tolist()) == (0, ["café", "ok"])


def test_missing_empty_and_header_only_csv(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"data file '.*nope\.csv' does not exist"):
        read_source(str(tmp_path / "nope.csv"))
    with pytest.raises(DataError, match="does not exist"):
        read_csv(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="no rows"):
        read_csv(write(tmp_path / "empty.csv", ""))
    with pytest.raises(DataError, match="no rows"):
        read_source(str(write(tmp_path / "head.csv", "a,b\n")))
    with pytest.raises(DataError, match="no rows after dropping 1 bad rows"):
        read_csv(write(tmp_path / "bad.csv", "a,b\n1\n"), bad_rows="drop")


def test_gzipped_csv_and_tsv(tmp_path: Path) -> None:
    gz = tmp_path / "t.csv.gz"
    gz.write_bytes(gzip.compress(b"a,b\n1,2\n3,4\n"))
    assert read_source(str(gz)).frames["all"]["b"].tolist() == [2, 4]
    tsv = write(tmp_path / "t.tsv", "a\tb\n1\tx,y\n")
    assert read_source(str(tsv)).frames["all"]["b"].tolist() == ["x,y"]
    semi = write(tmp_path / "s.txt", "a;b\n1;2\n")
    assert read_source(str(semi), delimiter=";").frames["all"]["b"].tolist() == [2]


def test_format_guessing_errors(tmp_path: Path) -> None:
    odd = write(tmp_path / "t.dat", "a,b\n1,2\n")
    with pytest.raises(DataError, match="cannot tell the format"):
        read_source(str(odd))
    assert len(read_source(str(odd), format="csv").frames["all"]) == 1
    with pytest.raises(DataError, match="Did you mean 'parquet'"):
        read_source(str(odd), format="parquett")


# -------------------------------------------------------------------- Parquet


def test_parquet_round_trip_and_garbage(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    frame.to_parquet(tmp_path / "t.parquet")
    back = read_source(str(tmp_path / "t.parquet")).frames["all"]
    assert back["a"].tolist() == [1, 2] and back["b"].tolist() == ["x", "y"]
    bad = write(tmp_path / "bad.pq", b"not parquet at all")
    with pytest.raises(DataError, match=r"bad\.pq' is not a readable Parquet file"):
        read_parquet(bad)


# ------------------------------------------------------------------------ IDX


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 array in the IDX format."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_mnist_folder(folder: Path, n_train: int, n_test: int) -> None:
    """Write small MNIST-style gzipped IDX files; image i is filled with i."""
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = np.arange(n, dtype=np.uint8)[:, None, None] * np.ones((1, 28, 28), np.uint8)
        labels = np.arange(n, dtype=np.uint8) % 10
        (folder / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(images)))
        (folder / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(labels)))


def test_idx_round_trip(tmp_path: Path) -> None:
    images = np.random.default_rng(1).integers(0, 256, size=(3, 4, 5), dtype=np.uint8)
    raw = write(tmp_path / "img-idx3-ubyte", idx_bytes(images))
    gz = write(tmp_path / "img-idx3-ubyte.gz", gzip.compress(idx_bytes(images)))
    assert np.array_equal(read_idx(raw), images) and np.array_equal(read_idx(gz), images)
    labels = write(tmp_path / "lab-idx1-ubyte", idx_bytes(np.array([7, 1, 3], np.uint8)))
    frame = read_idx_pair(raw, labels)
    assert frame["label"].tolist() == [7, 1, 3] and frame["label"].dtype == np.int64
    assert np.array_equal(frame["image"][2], images[2])


def test_corrupt_idx_files(tmp_path: Path) -> None:
    good = idx_bytes(np.zeros((2, 3, 3), np.uint8))
    with pytest.raises(DataError, match="truncated or corrupt"):
        read_idx(write(tmp_path / "short", good[:-1]))
    with pytest.raises(DataError, match="bad header"):
        read_idx(write(tmp_path / "magic", b"\x01\x02" + good[2:]))
    with pytest.raises(DataError, match="not valid gzip"):
        read_idx(write(tmp_path / "bad.gz", gzip.compress(good)[:20]))
    labels = write(tmp_path / "labels", idx_bytes(np.zeros(5, np.uint8)))
    with pytest.raises(DataError, match="one label per image"):
        read_idx_pair(write(tmp_path / "images", good), labels)


def test_idx_folder_source_has_train_and_test(tmp_path: Path) -> None:
    write_mnist_folder(tmp_path / "digits", n_train=4, n_test=2)
    data = read_source(str(tmp_path / "digits"))
    assert (len(data.frames["train"]), len(data.frames["test"])) == (4, 2)
    assert data.frames["train"]["image"][3][0, 0] == 3


# --------------------------------------------------------------- image folder


def test_image_folder_two_classes(tmp_path: Path) -> None:
    for i in range(2):
        (tmp_path / "imgs" / "cat").mkdir(parents=True, exist_ok=True)
        (tmp_path / "imgs" / "dog").mkdir(parents=True, exist_ok=True)
        Image.new("L", (4, 3), color=10 * i).save(tmp_path / "imgs" / "cat" / f"{i}.png")
        Image.new("RGB", (4, 3), color=(1, 2, 3)).save(tmp_path / "imgs" / "dog" / f"{i}.png")
    (tmp_path / "imgs" / "dog" / "notes.txt").write_text("ignored")
    frame = read_source(str(tmp_path / "imgs")).frames["all"]
    assert frame["label"].tolist() == ["cat", "cat", "dog", "dog"]
    assert frame["image"][0].shape == (3, 4) and frame["image"][0].dtype == np.uint8
    assert frame["image"][1][0, 0] == 10
    assert frame["image"][2].shape == (3, 4, 3) and frame["image"][2][0, 0].tolist() == [1, 2, 3]


def test_image_folder_bad_image_names_file(tmp_path: Path) -> None:
    (tmp_path / "imgs" / "a").mkdir(parents=True)
    Image.new("L", (2, 2)).save(tmp_path / "imgs" / "a" / "good.png")
    write(tmp_path / "imgs" / "a" / "broken.png", b"\x89PNG not really")
    with pytest.raises(DataError, match=r"broken\.png' cannot be read as an image"):
        read_image_folder(tmp_path / "imgs")
    (tmp_path / "none" / "a").mkdir(parents=True)
    with pytest.raises(DataError, match="holds no images"):
        read_image_folder(tmp_path / "none")
    Image.new("L", (2, 2)).save(tmp_path / "none" / "stray.png")
    with pytest.raises(DataError, match="one sub-folder per class"):
        read_image_folder(tmp_path / "none")


# ---------------------------------------------------------------------- fetch


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    requests: list[str] = []

    def log_message(self, format: str, *args: object) -> None:
        _QuietHandler.requests.append(self.path)


@pytest.fixture
def mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, str]]:
    """A local HTTP server on 127.0.0.1 serving a temporary folder: (folder, URL)."""
    root = tmp_path / "mirror"
    root.mkdir()
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "*")
    _QuietHandler.requests = []
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    serve = functools.partial(server.serve_forever, poll_interval=0.05)
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def fake_mnist_sources(folder: Path) -> RemoteDataset:
    """A catalogue entry whose hashes are those of the fake files in ``folder``."""
    files = tuple(
        RemoteFile(item.name, hashlib.sha256((folder / item.name).read_bytes()).hexdigest())
        for item in fetch_module.SOURCES["mnist"].files
    )
    return RemoteDataset(url="https://unused.invalid/", files=files)


def test_fetch_adult_checks_real_hashes_and_caches(
    mirror: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, url = mirror
    (root / "adult").mkdir()
    for name in ("adult.data", "adult.test"):  # the shipped copies are the UCI files, gzipped
        raw = gzip.decompress((builtin_module.FILES_DIR / f"{name}.gz").read_bytes())
        (root / "adult" / name).write_bytes(raw)
    cache = tmp_path / "cache"
    folder = fetch("adult", cache_dir=cache, base_url=url)
    assert folder == cache / "adult"
    assert sorted(p.name for p in folder.iterdir()) == ["adult.data", "adult.test"]
    assert len(_QuietHandler.requests) == 2
    fetch("adult", cache_dir=cache, base_url=url)  # cached and valid: no download
    assert len(_QuietHandler.requests) == 2
    monkeypatch.setenv("TAILORML_CACHE", str(cache))
    frames = load_builtin("adult_full").frames
    assert (len(frames["train"]), len(frames["test"])) == (32561, 16281)
    assert list(frames["test"].columns) == ADULT_COLUMNS


def test_fetch_mnist_from_env_mirror_then_load_full(
    mirror: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, url = mirror
    write_mnist_folder(root / "mnist", n_train=6, n_test=3)
    monkeypatch.setitem(fetch_module.SOURCES, "mnist", fake_mnist_sources(root / "mnist"))
    monkeypatch.setenv("TAILORML_DATA_MIRROR", url)
    monkeypatch.setenv("TAILORML_CACHE", str(tmp_path / "cache"))
    with pytest.raises(DataError, match="Run `tailor data fetch mnist` first"):
        load_builtin("mnist_full")
    folder = fetch("mnist")
    assert folder == tmp_path / "cache" / "mnist"
    frames = load_builtin("mnist_full").frames
    assert (len(frames["train"]), len(frames["test"])) == (6, 3)
    assert list(frames["train"].columns) == ["image", "label"]
    assert frames["train"]["image"][5].shape == (28, 28)


def test_fetch_checksum_mismatch_deletes_the_file(mirror: tuple[Path, str], tmp_path: Path) -> None:
    root, url = mirror
    (root / "adult").mkdir()
    (root / "adult" / "adult.data").write_bytes(b"39, State-gov, tampered\n")
    cache = tmp_path / "cache"
    with pytest.raises(DataError, match=r"adult\.data has SHA-256 .* not the expected 5b0026"):
        fetch("adult", cache_dir=cache, base_url=url)
    assert list((cache / "adult").iterdir()) == []  # neither the file nor a .part is left


def test_fetch_errors(mirror: tuple[Path, str], tmp_path: Path) -> None:
    _, url = mirror
    with pytest.raises(DataError, match="Did you mean 'mnist'"):
        fetch("minst", cache_dir=tmp_path)
    with pytest.raises(DataError, match="HTTP Error 404"):
        fetch("adult", cache_dir=tmp_path, base_url=url)
