"""Download the full canonical data sets into a local cache, checked by SHA-256.

The package ships small subsets (see ``builtin.py``); ``fetch`` gets the full
versions from their canonical homes. Files land in
``<cache>/<name>/<file>``, where ``<cache>`` is ``$TAILORML_CACHE`` or
``~/.cache/tailorml``. A mirror (``base_url`` or ``$TAILORML_DATA_MIRROR``)
replaces the host: it must serve ``<mirror>/<name>/<file>``; ``file://``
mirrors work too, for machines without internet.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from tailorml.errors import DataError, did_you_mean

CACHE_ENV = "TAILORML_CACHE"
MIRROR_ENV = "TAILORML_DATA_MIRROR"
_TIMEOUT_S = 60


@dataclass(frozen=True)
class RemoteFile:
    """One file of a remote data set and the SHA-256 it must have."""

    name: str
    sha256: str


@dataclass(frozen=True)
class RemoteDataset:
    """Where a full data set lives and the files it is made of."""

    url: str
    files: tuple[RemoteFile, ...]


# SHA-256 of the canonical files. MNIST: the digests torchvision-style loaders
# and many independent projects pin for these four files; Adult: identical to
# the reference copies in the project's SOURCES.md.
SOURCES: dict[str, RemoteDataset] = {
    "mnist": RemoteDataset(
        url="https://ossci-datasets.s3.amazonaws.com/mnist/",
        files=(
            RemoteFile(
                "train-images-idx3-ubyte.gz",
                "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            ),
            RemoteFile(
                "train-labels-idx1-ubyte.gz",
                "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            ),
            RemoteFile(
                "t10k-images-idx3-ubyte.gz",
                "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            ),
            RemoteFile(
                "t10k-labels-idx1-ubyte.gz",
                "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
            ),
        ),
    ),
    "adult": RemoteDataset(
        url="https://archive.ics.uci.edu/ml/machine-learning-databases/adult/",
        files=(
            RemoteFile(
                "adult.data", "5b00264637dbfec36bdeaab5676b0b309ff9eb788d63554ca0a249491c86603d"
            ),
            RemoteFile(
                "adult.test", "a2a9044bc167a35b2361efbabec64e89d69ce82d9790d2980119aac5fd7e9c05"
            ),
        ),
    ),
}


def sha256_file(path: Path) -> str:
    """The lower-case hex SHA-256 of a file, read in chunks."""
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


def default_cache_dir() -> Path:
    """``$TAILORML_CACHE``, or ``~/.cache/tailorml`` when it is unset."""
    configured = os.environ.get(CACHE_ENV)
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "tailorml"


def remote_dataset(name: str) -> RemoteDataset:
    """The catalogue entry for ``name``; DataError when it is not a fetchable data set."""
    if name not in SOURCES:
        raise DataError(
            f"there is no data set '{name}' to fetch.{did_you_mean(name, SOURCES)} "
            f"Data sets that can be fetched: {', '.join(sorted(SOURCES))}."
        )
    return SOURCES[name]


def fetch(name: str, cache_dir: Path | None = None, base_url: str | None = None) -> Path:
    """Download a full data set into the cache, unless a valid copy is there.

    Args:
        name: ``mnist`` (the four IDX files, 70,000 digits) or ``adult``
            (``adult.data`` and ``adult.test``).
        cache_dir: the cache folder; default ``$TAILORML_CACHE`` or
            ``~/.cache/tailorml``.
        base_url: a mirror serving ``<base_url>/<name>/<file>``; default
            ``$TAILORML_DATA_MIRROR``, else the canonical host.

    Returns:
        The folder holding the data set's files (``<cache>/<name>``).

    Raises:
        DataError: unknown name, a download failed, or a file's SHA-256 does
            not match (the bad file is deleted).
    """
    remote = remote_dataset(name)
    folder = (cache_dir or default_cache_dir()) / name
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create the data cache folder '{folder}': {exc}.") from None
    mirror = base_url or os.environ.get(MIRROR_ENV)
    root = f"{mirror.rstrip('/')}/{name}/" if mirror else remote.url
    for item in remote.files:
        target = folder / item.name
        if target.is_file() and sha256_file(target) == item.sha256:
            continue
        target.unlink(missing_ok=True)
        download(root + item.name, target, item.sha256)
    return folder


def download(url: str, target: Path, sha256: str) -> None:
    """Download ``url`` (http, https or file) to ``target`` via a temporary file.

    The file only appears under its final name, by atomic rename, once its
    SHA-256 is ``sha256``; on any failure the partial file is removed.

    Raises:
        DataError: the download failed or the hash does not match.
    """
    handle, tmp_name = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".part"
    )
    tmp = Path(tmp_name)
    try:
        with os.fdopen(handle, "wb") as out:
            _copy_url(url, out)
        actual = sha256_file(tmp)
        if actual != sha256:
            raise DataError(
                f"the file downloaded from {url} has SHA-256 {actual}, not the expected "
                f"{sha256}; it was deleted. The download was corrupted or the mirror serves "
                "a different file; try again, or check $TAILORML_DATA_MIRROR."
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _copy_url(url: str, out: BinaryIO) -> None:
    """Stream ``url`` into the binary file ``out``."""
    if not url.startswith(("http://", "https://", "file://")):
        raise DataError(f"cannot download '{url}': only http, https and file URLs are allowed.")
    try:
        with urllib.request.urlopen(url, timeout=_TIMEOUT_S) as response:
            shutil.copyfileobj(response, out)
    except (urllib.error.URLError, OSError) as exc:
        http = isinstance(exc, urllib.error.HTTPError)
        reason = exc if http else getattr(exc, "reason", None) or exc
        raise DataError(
            f"downloading {url} failed ({reason}). Check the network, or point "
            f"${MIRROR_ENV} at a mirror that serves <mirror>/<name>/<file>."
        ) from None


def cached_dataset(name: str) -> Path:
    """The cache folder (see :func:`fetch`) of a fetched data set, every file's SHA-256
    checked.

    Raises:
        DataError: the data set was not fetched, or a cached file is corrupt.
    """
    folder = default_cache_dir() / name
    for item in remote_dataset(name).files:
        path = folder / item.name
        if not path.is_file():
            raise DataError(
                f"the full '{name}' data set is not in the cache ('{path}' is missing). "
                f"Run `tailor data fetch {name}` first (it downloads it once), or set "
                f"${CACHE_ENV} to the folder where it was fetched."
            )
        if sha256_file(path) != item.sha256:
            raise DataError(
                f"the cached file '{path}' does not have the expected SHA-256 {item.sha256}; "
                f"it is corrupt or was changed. Run `tailor data fetch {name}` again to "
                "replace it."
            )
    return folder
