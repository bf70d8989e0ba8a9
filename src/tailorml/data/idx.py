"""MNIST's IDX format: one array per file, optionally gzipped.

An IDX file is two zero bytes, a type byte, a byte giving the number of
dimensions, each dimension as a big-endian uint32, then the values in C order
(big-endian). See http://yann.lecun.com/exdb/mnist/.
"""

from __future__ import annotations

import gzip
import re
import zlib
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from tailorml.errors import DataError

_IDX_TYPES: dict[int, str] = {
    0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8",
}  # fmt: skip
# train-images-idx3-ubyte(.gz), t10k-labels.idx1-ubyte, ... (both spellings occur).
_IDX_NAME = re.compile(r"^(train|t10k|test)-(images|labels)[-.]idx[13]-ubyte(\.gz)?$")
_SPLITS = {"train": "train", "t10k": "test", "test": "test"}


def read_idx(path: str | Path) -> npt.NDArray[np.generic]:
    """Read one IDX file (gzipped or not) into a native-order array of the header's shape.

    Raises:
        DataError: the file is missing, not valid gzip, or its header or size
            is not that of an IDX file.
    """
    path = Path(path)
    raw = _read_maybe_gzipped(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES or raw[3] == 0:
        raise DataError(
            f"IDX file '{path}' has a bad header (magic bytes {raw[:4].hex() or 'missing'}); "
            "an IDX file starts with two zero bytes, a type code (0x08 for uint8) and the "
            "number of dimensions. The file is corrupt or not an IDX file."
        )
    ndim = raw[3]
    offset = 4 + 4 * ndim
    if len(raw) < offset:
        raise DataError(f"IDX file '{path}' ends inside its header; the file is truncated.")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - offset != expected:
        raise DataError(
            f"IDX file '{path}' holds {len(raw) - offset:,} bytes of values, but its header "
            f"says shape {shape} of {dtype.name}, which needs {expected:,}; "
            "the file is truncated or corrupt."
        )
    values = np.frombuffer(raw, dtype=dtype, offset=offset).reshape(shape)
    return values.astype(dtype.newbyteorder("="))  # a writable, native-order copy


def _read_maybe_gzipped(path: Path) -> bytes:
    """Return a file's bytes, gunzipped when it starts with the gzip magic."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"IDX file '{path}' does not exist.") from None
    except OSError as exc:
        raise DataError(f"IDX file '{path}' cannot be read: {exc.strerror or exc}.") from None
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(
            f"IDX file '{path}' is not valid gzip ({exc}); the download is probably "
            "truncated or corrupt."
        ) from None


def read_idx_pair(images_path: str | Path, labels_path: str | Path) -> pd.DataFrame:
    """Read a uint8 (N, H, W) images file and its (N,) labels file into a
    :func:`digits_frame`, in file order.

    Raises:
        DataError: either file is unreadable, or the shapes do not pair up.
    """
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise DataError(
            f"IDX images file '{images_path}' holds a {images.dtype.name} array of shape "
            f"{images.shape}; expected uint8 images of shape (N, height, width)."
        )
    if labels.ndim != 1 or len(labels) != len(images):
        raise DataError(
            f"IDX labels file '{labels_path}' has shape {labels.shape}, but "
            f"'{images_path}' holds {len(images):,} images; expected one label per image."
        )
    return digits_frame(images.astype(np.uint8), labels.astype(np.int64))


def digits_frame(images: npt.NDArray[np.uint8], labels: npt.NDArray[np.integer]) -> pd.DataFrame:
    """(N, H, W) images and (N,) labels → an object column ``image`` of (H, W) arrays and
    an int64 column ``label``."""
    image = pd.Series(list(images), dtype=object)
    return pd.DataFrame({"image": image, "label": labels.astype(np.int64)})


def find_idx_files(folder: Path) -> dict[str, tuple[Path, Path]]:
    """``{"train": (images, labels), "test": (images, labels)}`` for the IDX pairs present
    in a folder; empty when it holds none.

    Raises:
        DataError: a split has an images file without a labels file or the
            other way round.
    """
    found: dict[tuple[str, str], Path] = {}
    for path in sorted(folder.iterdir()):
        match = _IDX_NAME.match(path.name)
        if match and path.is_file():
            found.setdefault((_SPLITS[match.group(1)], match.group(2)), path)
    pairs: dict[str, tuple[Path, Path]] = {}
    for split in sorted({split for split, _ in found}, key=["train", "test"].index):
        images, labels = found.get((split, "images")), found.get((split, "labels"))
        if images is None or labels is None:
            have = images or labels
            raise DataError(
                f"folder '{folder}' holds the IDX file '{have.name if have else '?'}' but not "
                f"its {'labels' if labels is None else 'images'} partner for the {split} split; "
                "MNIST-style folders need both *-images-idx3-ubyte and *-labels-idx1-ubyte."
            )
        pairs[split] = (images, labels)
    return pairs


def read_idx_folder(folder: Path) -> dict[str, pd.DataFrame]:
    """Read every IDX image/label pair in a folder (``train-images-idx3-ubyte.gz``,
    ``t10k-labels-idx1-ubyte.gz``…) into ``{"train": frame, "test": frame}``.

    Raises:
        DataError: no IDX files, an unpaired file, or an unreadable file.
    """
    pairs = find_idx_files(folder)
    if not pairs:
        raise DataError(
            f"folder '{folder}' holds no IDX files (expected names like "
            "train-images-idx3-ubyte.gz and train-labels-idx1-ubyte.gz)."
        )
    return {split: read_idx_pair(images, labels) for split, (images, labels) in pairs.items()}
