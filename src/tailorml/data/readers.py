"""Read a data source (CSV, Parquet, an image or audio folder, IDX files, a built-in) into a
Dataset.

Every problem with the user's file becomes a :class:`DataError` naming the
file, the line and what is wrong; bad CSV rows (the wrong number of fields,
undecodable bytes, or ``inf`` / ``-inf`` in a numeric column) are dropped only
when asked (``bad_rows="drop"``), and then counted.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import itertools
import re
import string
import sys
from array import array
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

import numpy as np
import pandas as pd
from PIL import Image

from tailorml.data.builtin import load_builtin
from tailorml.data.dataset import Dataset
from tailorml.data.idx import find_idx_files, read_idx, read_idx_folder, read_idx_pair
from tailorml.errors import DataError, did_you_mean

__all__ = [
    "read_audio_folder",
    "read_csv",
    "read_idx",
    "read_idx_pair",
    "read_image_folder",
    "read_parquet",
    "read_source",
]

BadRows = Literal["fail", "drop"]
FORMATS = ("auto", "csv", "parquet", "images", "audio", "idx")
CSV_SUFFIXES = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz", ".txt.gz")
PARQUET_SUFFIXES = (".parquet", ".pq")
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif"})
AUDIO_SUFFIXES = frozenset({".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif"})
_DIGITS = re.compile(r"[0-9]{1,18}")  # a field value read as an int64
# Bytes the codec could not decode, kept by errors="surrogateescape" as U+DC80..U+DCFF.
_UNDECODED = re.compile("[\udc80-\udcff]")
_SHOWN_LINES = 10


@dataclass
class _CsvScan:
    """What one pass of the csv module found: the bad rows and the good ones."""

    last_start: int = 1  # the line the last row starts on
    bad_lines: list[int] = field(default_factory=list)
    good_text: io.StringIO | None = None  # the good rows, kept only in drop mode
    good_lines: array[int] = field(default_factory=lambda: array("q"))  # each good row's line


def read_csv(
    path: str | Path, *, bad_rows: BadRows = "fail", encoding: str = "utf-8", delimiter: str = ","
) -> tuple[pd.DataFrame, int]:
    """Read a CSV file with a header row, checking every row.

    Args:
        path: the file (``.gz`` files are decompressed).
        bad_rows: ``"fail"`` raises on the first row with the wrong number of
            fields or undecodable bytes, and on ``inf`` / ``-inf`` in a numeric
            column; ``"drop"`` drops such rows and counts them.

    Returns:
        The frame and the number of rows dropped.

    Raises:
        DataError: missing or unreadable file, no rows, or (in ``"fail"``
            mode) a bad row, naming its line (the header is line 1).
    """
    frame, dropped = read_csv_lines(path, bad_rows=bad_rows, encoding=encoding, delimiter=delimiter)
    return frame, len(dropped)


def read_csv_lines(
    path: str | Path, *, bad_rows: BadRows = "fail", encoding: str = "utf-8", delimiter: str = ","
) -> tuple[pd.DataFrame, list[int]]:
    """Like :func:`read_csv`, but return the line numbers of the dropped rows."""
    path = Path(path)
    _check_csv_args(path, bad_rows, encoding, delimiter)
    scan = _scan_csv(path, bad_rows=bad_rows, encoding=encoding, delimiter=delimiter)
    if not scan.good_lines:
        dropped = f" after dropping {len(scan.bad_lines)} bad rows" if scan.bad_lines else ""
        raise DataError(f"data file '{path}' has no rows{dropped}; it needs a header and data.")
    # The csv module only checked the rows; pandas' C parser builds the frame.
    source: Path | io.StringIO = path
    if scan.bad_lines and scan.good_text is not None:
        source = scan.good_text
        source.seek(0)
    compression = "gzip" if source is path and path.name.lower().endswith(".gz") else None
    try:
        frame = pd.read_csv(
            source, sep=delimiter, encoding=encoding, compression=compression, low_memory=False
        )
    except (ValueError, UnicodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        if "EOF inside string" in str(exc):  # an unclosed quote swallows the rest of the file
            raise DataError(
                f"data file '{path}', line {scan.last_start}: a quoted field opens here and "
                'never closes (the rest of the file is inside it). Add the missing closing ".'
            ) from None
        raise DataError(f"data file '{path}' could not be read as CSV: {exc}") from None
    frame, infinite = _drop_infinite(frame, path, scan, bad_rows)
    if infinite and len(frame) == 0:
        raise DataError(f"data file '{path}' has no rows after dropping {len(infinite)} bad rows.")
    return frame, sorted(scan.bad_lines + infinite)


def _drop_infinite(
    frame: pd.DataFrame, path: Path, scan: _CsvScan, bad_rows: BadRows
) -> tuple[pd.DataFrame, list[int]]:
    """Refuse (fail mode) or drop (drop mode) the rows with ``inf`` or ``-inf``
    in a numeric column; return the frame and the dropped rows' lines."""
    found = {}
    for name, column in frame.select_dtypes("floating").items():
        rows = np.flatnonzero(np.isinf(column.to_numpy(dtype=np.float64, na_value=np.nan)))
        if rows.size:
            found[str(name)] = rows
    if not found:
        return frame, []
    if bad_rows == "fail":
        name, rows = next(iter(found.items()))
        others = [repr(other) for other in found if other != name]
        also = f" (columns {', '.join(others)} have some too)" if others else ""
        raise DataError(
            f"data file '{path}', column '{name}': {len(rows)} infinite value(s) (inf or -inf) "
            f"on {_lines_text([scan.good_lines[r] for r in rows])}{also}. Numbers must be "
            "finite: fix them, leave them empty to count as missing, or set bad_rows: drop to "
            "skip rows like them."
        )
    rows = np.unique(np.concatenate(list(found.values())))
    keep = ~np.isin(np.arange(len(frame)), rows)
    return frame[keep].reset_index(drop=True), [scan.good_lines[r] for r in rows]


def _lines_text(lines: list[int]) -> str:
    """``line 4`` or ``lines 4, 9, 12 and 3 more``."""
    shown = ", ".join(str(line) for line in lines[:_SHOWN_LINES])
    more = f" and {len(lines) - _SHOWN_LINES} more" if len(lines) > _SHOWN_LINES else ""
    return f"line{'s' if len(lines) > 1 else ''} {shown}{more}"


def _check_csv_args(path: Path, bad_rows: str, encoding: str, delimiter: str) -> None:
    """Raise DataError for a missing file or a bad option value."""
    if not path.exists():
        raise DataError(f"data file '{path}' does not exist.")
    if not path.is_file():
        raise DataError(f"data file '{path}' is not a file.")
    if bad_rows not in ("fail", "drop"):
        raise DataError(f"bad_rows must be 'fail' or 'drop', not '{bad_rows}'.")
    if len(delimiter) != 1:
        raise DataError(f"the CSV delimiter must be one character, not {delimiter!r}.")
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise DataError(
            f"unknown text encoding '{encoding}' for data file '{path}' "
            "(try utf-8, latin-1 or cp1252)."
        ) from None


def _scan_csv(path: Path, *, bad_rows: BadRows, encoding: str, delimiter: str) -> _CsvScan:
    """Check every row's field count and decoding with the (C-implemented) csv module."""
    keep = io.StringIO() if bad_rows == "drop" else None
    writer = None if keep is None else csv.writer(keep, delimiter=delimiter, lineterminator="\n")
    with _open_csv_text(path, encoding) as text, _no_field_limit():
        reader = csv.reader(text, delimiter=delimiter)
        try:
            header = next((row for row in reader if row), None)  # skip blank lines
            if header is None:
                raise DataError(f"data file '{path}' is empty: no rows, not even a header.")
            _check_header(header, path, reader.line_num, encoding)
            scan = _CsvScan(good_text=keep)
            if writer is not None:
                writer.writerow(header)
            end = reader.line_num
            for row in reader:
                start, end = end + 1, reader.line_num
                if not row:  # a blank line, which pandas skips as well
                    continue
                scan.last_start = start
                if _row_is_bad(row, header, path, start, encoding, bad_rows):
                    scan.bad_lines.append(start)
                    continue
                scan.good_lines.append(start)
                if writer is not None:
                    writer.writerow(row)
        except csv.Error as exc:
            raise DataError(
                f"data file '{path}', line {reader.line_num}: the CSV is malformed ({exc})."
            ) from None
        except (OSError, EOFError) as exc:  # e.g. a truncated or invalid .gz file
            raise DataError(f"data file '{path}' cannot be read: {exc}.") from None
    return scan


def _open_csv_text(path: Path, encoding: str) -> IO[str]:
    """Open a (maybe gzipped) file as text, keeping undecodable bytes as surrogates."""
    if codecs.lookup(encoding).name == "utf-8":
        encoding = "utf-8-sig"  # pandas drops a byte-order mark too
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        return opener(path, "rt", encoding=encoding, errors="surrogateescape", newline="")
    except OSError as exc:
        raise DataError(f"data file '{path}' cannot be opened: {exc.strerror or exc}.") from None


@contextmanager
def _no_field_limit() -> Iterator[None]:
    """Lift the csv module's 128 KiB field limit (long texts are fine in pandas)."""
    previous = csv.field_size_limit()
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    try:
        yield
    finally:
        csv.field_size_limit(previous)


def _check_header(header: list[str], path: Path, line: int, encoding: str) -> None:
    """Raise DataError for an undecodable header or a repeated column name."""
    if (byte := _undecodable_byte(header)) is not None:
        raise _decode_error(path, line, encoding, byte, "header")
    repeated = sorted({name for name in header if header.count(name) > 1 and name})
    if repeated:
        raise DataError(
            f"data file '{path}', line {line}: the header names column '{repeated[0]}' more than "
            "once; column names must be unique."
        )


def _row_is_bad(
    row: list[str], header: list[str], path: Path, line: int, encoding: str, bad_rows: BadRows
) -> bool:
    """Return True for a bad row to drop; raise DataError for one in fail mode."""
    byte = _undecodable_byte(row)
    if len(row) == len(header) and byte is None:
        return False
    if bad_rows == "drop":
        return True
    if len(row) != len(header):
        hint = " (the header has one field: is the delimiter right?)" if len(header) == 1 else ""
        raise DataError(
            f"data file '{path}', line {line}: expected {len(header)} fields (as in the "
            f"header) but saw {len(row)}{hint}. Fix the row, or set bad_rows: drop to skip "
            "rows like it."
        )
    raise _decode_error(path, line, encoding, byte, "row")


def _undecodable_byte(row: list[str]) -> int | None:
    """Return the first byte the codec could not decode in a row, if any."""
    found = _UNDECODED.search("".join(row))
    return None if found is None else ord(found.group()) - 0xDC00


def _decode_error(path: Path, line: int, encoding: str, byte: int | None, what: str) -> DataError:
    """Build the error for bytes that are not valid in the file's encoding."""
    drop = ", or set bad_rows: drop to skip rows like it" if what == "row" else ""
    return DataError(
        f"data file '{path}', line {line}: the {what} holds byte 0x{byte or 0:02x}, which is "
        f"not valid {encoding}. Set the data encoding to the file's real one (often latin-1 "
        f"or cp1252){drop}."
    )


def read_parquet(path: str | Path) -> pd.DataFrame:
    """Read a Parquet file; DataError when it is missing or not readable Parquet."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"data file '{path}' does not exist.")
    import pyarrow  # imported here: only Parquet sources need it

    try:
        return pd.read_parquet(path)
    except (OSError, ValueError, pyarrow.ArrowException) as exc:
        raise DataError(f"data file '{path}' is not a readable Parquet file: {exc}") from None


def read_image_folder(path: str | Path) -> pd.DataFrame:
    """Read ``folder/<class name>/*.png|jpg|jpeg|bmp|gif`` into a frame.

    Returns:
        Columns ``image`` (uint8 arrays, (H, W) for grayscale, (H, W, C)
        otherwise) and ``label`` (the class folder's name), sorted by class,
        then file name.

    Raises:
        DataError: no class folders or images, images outside class folders,
            or an unreadable image (named).
    """
    folder = Path(path)
    if not folder.is_dir():
        raise DataError(f"image folder '{folder}' does not exist or is not a folder.")
    stray = [p.name for p in folder.iterdir() if _is_image(p)]
    if stray:
        raise DataError(
            f"image folder '{folder}' holds {len(stray)} images directly (e.g. '{stray[0]}'); "
            "images must sit in one sub-folder per class, named after the class."
        )
    found = _class_files(folder, _is_image)
    images = [read_image(file) for file, _ in found]
    labels = [label for _, label in found]
    if not images:
        raise DataError(
            f"image folder '{folder}' holds no images; expected <class>/<file> with the "
            f"extensions {', '.join(sorted(IMAGE_SUFFIXES))}."
        )
    return pd.DataFrame({"image": pd.Series(images, dtype=object), "label": labels})


def _class_files(folder: Path, wanted: Callable[[Path], bool]) -> list[tuple[Path, str]]:
    """The ``wanted`` files of each visible sub-folder of ``folder`` with the
    sub-folder's name as their label, sorted by label then file name."""
    classes = sorted(p for p in folder.iterdir() if p.is_dir() and _visible(p))
    return [(f, c.name) for c in classes for f in sorted(p for p in c.iterdir() if wanted(p))]


def _visible(path: Path) -> bool:
    return not path.name.startswith(".")


def _is_image(path: Path) -> bool:
    return path.is_file() and _visible(path) and path.suffix.lower() in IMAGE_SUFFIXES


def _is_audio(path: Path) -> bool:
    return path.suffix.lower() in AUDIO_SUFFIXES and _visible(path) and path.is_file()


def read_audio_folder(path: str | Path, pattern: str | None = None) -> pd.DataFrame:
    """List the audio clips (``.wav .flac .ogg .mp3 .aiff .aif``) of a folder; the clips
    are not decoded here (the audio feature decodes them).

    Args:
        path: without ``pattern``, a folder with one sub-folder of clips per class;
            with it, a folder holding the clips directly.
        pattern: file names such as ``{digit}_{speaker}_{index}.wav``; each
            ``{field}`` matches the shortest text that lets the whole name match,
            left to right, and becomes a column (int64 when every value is digits).

    Returns:
        Column ``audio`` (absolute paths) then ``label`` (the class folder's name),
        or then the pattern's fields; sorted by class, then file name. Hidden files
        and files of other types are skipped.

    Raises:
        DataError: a missing folder, a folder without clips, clips outside class
            folders, a bad pattern, or a file name the pattern does not match (named).
    """
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise DataError(f"audio folder '{folder}' does not exist or is not a folder.")
    folder = folder.resolve()
    suffixes = ", ".join(sorted(AUDIO_SUFFIXES))
    if pattern is not None:
        return _read_audio_pattern(folder, pattern, suffixes)
    stray = sorted(p.name for p in folder.iterdir() if _is_audio(p))
    if stray:
        raise DataError(
            f"audio folder '{folder}' holds {len(stray)} audio files directly (e.g. "
            f"'{stray[0]}'); put the clips in one sub-folder per class, named after the class, "
            "or set the data pattern (such as '{label}_{index}.wav') to read the fields of "
            "their names."
        )
    found = _class_files(folder, _is_audio)
    clips = [str(file) for file, _ in found]
    labels = [label for _, label in found]
    if not clips:
        raise DataError(
            f"audio folder '{folder}' holds no audio files; expected <class>/<file> with the "
            f"extensions {suffixes}, or files named by a data pattern."
        )
    return pd.DataFrame({"audio": clips, "label": labels})


def _read_audio_pattern(folder: Path, pattern: str, suffixes: str) -> pd.DataFrame:
    """Read the clips directly in ``folder`` with the fields of their names."""
    regex, fields = _pattern_regex(pattern)
    files = sorted((p for p in folder.iterdir() if _is_audio(p)), key=lambda p: p.name)
    if not files:
        raise DataError(
            f"audio folder '{folder}' holds no audio files directly (extensions {suffixes}); "
            f"with the pattern '{pattern}' the clips must sit in the folder itself."
        )
    values: dict[str, list[str]] = {name: [] for name in fields}
    for file in files:
        match = regex.fullmatch(file.name)
        if match is None:
            raise DataError(
                f"audio file '{file}': its name does not match the data pattern '{pattern}'. "
                "Rename or move the file, or change the pattern."
            )
        for name in fields:
            values[name].append(match[name])
    frame = pd.DataFrame({"audio": [str(file) for file in files]})
    for name, column in values.items():
        numeric = all(_DIGITS.fullmatch(value) for value in column)
        frame[name] = np.array(column, dtype=np.int64) if numeric else column
    return frame


def _pattern_regex(pattern: str) -> tuple[re.Pattern[str], list[str]]:
    """Compile a file-name pattern (``{field}`` parts between literal text) to a regex."""

    def bad(why: str) -> DataError:
        return DataError(
            f"data pattern '{pattern}' {why}. A pattern is a file name with {{field}} parts, "
            "such as '{digit}_{speaker}_{index}.wav'."
        )

    if "/" in pattern or "\\" in pattern:
        raise bad("holds a path separator; it matches the names of the files in the folder")
    try:
        parts = list(string.Formatter().parse(pattern))
    except ValueError as exc:
        raise bad(f"is malformed ({exc})") from None
    regex = ""
    fields: list[str] = []
    previous_field = False
    for literal, name, spec, conversion in parts:
        regex += re.escape(literal)
        if name is None:
            continue
        if not name.isidentifier():
            raise bad(f"has the field {{{name}}}; a field is a name such as {{speaker}}")
        if spec or conversion:
            raise bad(f"gives the field {{{name}}} a format; write just {{{name}}}")
        if name == "audio" or name in fields:
            taken = "is the column of clip paths" if name == "audio" else "appears twice"
            raise bad(f"uses the field name '{name}', which {taken}")
        if previous_field and not literal:
            raise bad(f"has no text between {{{fields[-1]}}} and {{{name}}} to tell them apart")
        regex += f"(?P<{name}>.+?)"
        fields.append(name)
        previous_field = True
    if not fields:
        raise bad("has no {field} parts, so the file names give no columns")
    return re.compile(regex), fields


def read_image(path: Path) -> np.ndarray:
    """Decode one image file (the first frame of an animation) to uint8 (H, W) for
    grayscale or (H, W, C) for colour; DataError when it is not an image."""
    try:
        with Image.open(path) as image:
            image.load()
            return np.asarray(_to_uint8_mode(image), dtype=np.uint8)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise DataError(f"image file '{path}' cannot be read as an image: {exc}") from None


def _to_uint8_mode(image: Image.Image) -> Image.Image:
    """Convert a Pillow image to L, LA, RGB or RGBA, the modes with uint8 pixels."""
    if image.mode in ("L", "LA", "RGB", "RGBA"):
        return image
    if image.mode == "P":
        return image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("1", "I", "I;16", "I;16B", "I;16L", "F"):
        return image.convert("L")
    return image.convert("RGB")


def read_source(
    source: str,
    *,
    format: str = "auto",
    bad_rows: BadRows = "fail",
    encoding: str = "utf-8",
    delimiter: str = ",",
    pattern: str | None = None,
) -> Dataset:
    """Read a data source named in a config.

    Args:
        source: ``builtin:NAME``, a folder (one sub-folder of images or audio
            clips per class, audio clips named by ``pattern``, or MNIST IDX
            files), a CSV file (``.csv``, ``.tsv``, ``.txt``, optionally
            ``.gz``) or a Parquet file (``.parquet``, ``.pq``).
        format: ``auto`` guesses from the path (a folder of IDX files, else
            audio when its class folders hold clips, else images); ``csv``,
            ``parquet``, ``images``, ``audio`` or ``idx`` force a reader.
        bad_rows: for CSV, ``fail`` or ``drop`` (see :func:`read_csv`).
        encoding: for CSV, the text encoding.
        delimiter: for CSV, the field separator (a ``.tsv`` file read with the
            default ``,`` uses a tab).
        pattern: for an audio folder, file names such as
            ``{digit}_{speaker}_{index}.wav`` whose fields become columns (see
            :func:`read_audio_folder`); a file source (such as a test CSV)
            ignores it.

    Returns:
        The data set; ``frames`` is ``{"all": ...}`` except for built-ins and
        IDX folders, which have their own ``train`` / ``test`` split.

    Raises:
        DataError: missing source, unknown format, unreadable data or no rows.
    """
    if source.startswith("builtin:"):
        return load_builtin(source.removeprefix("builtin:"))
    path = Path(source).expanduser()
    if not path.exists():
        raise DataError(f"data file '{source}' does not exist.")
    kind = _choose_format(path, format, pattern)
    dataset = Dataset(name=source, frames={})
    if kind == "csv":
        _read_csv_source(dataset, path, bad_rows, encoding, delimiter)
    elif kind == "parquet":
        dataset.frames["all"] = read_parquet(path)
    elif kind == "images":
        dataset.frames["all"] = read_image_folder(path)
    elif kind == "audio":
        dataset.frames["all"] = read_audio_folder(path, pattern)
    else:
        dataset.frames.update(read_idx_folder(path))
    for split, frame in dataset.frames.items():
        if len(frame) == 0:
            part = "" if split == "all" else f" ({split} split)"
            raise DataError(f"data source '{source}'{part} has no rows.")
    return dataset


def _choose_format(path: Path, format: str, pattern: str | None = None) -> str:
    """Return csv, parquet, images, audio or idx for a path, checking a forced format fits."""
    if format not in FORMATS:
        raise DataError(
            f"unknown data format '{format}'.{did_you_mean(format, FORMATS)} "
            f"Formats: {', '.join(FORMATS)}."
        )
    kind = _choose_path_format(path, format, pattern)
    if pattern is not None and kind in ("images", "idx"):  # a file source ignores it
        raise DataError(
            f"the data pattern '{pattern}' names audio files, but the folder '{path}' is "
            f"read as {kind}. Remove the pattern, or set the format to audio."
        )
    return kind


def _choose_path_format(path: Path, format: str, pattern: str | None) -> str:
    if path.is_dir():
        if format in ("csv", "parquet"):
            raise DataError(f"data source '{path}' is a folder, but format is '{format}'.")
        if format != "auto":
            return format
        if find_idx_files(path):
            return "idx"
        return "audio" if pattern is not None or _looks_like_audio(path) else "images"
    needs = {
        "images": "one sub-folder of images per class",
        "audio": "audio clips, in one sub-folder per class or named by a pattern",
        "idx": "IDX files",
    }
    if format in needs:
        raise DataError(
            f"data source '{path}' is a file, but format '{format}' needs a folder "
            f"({needs[format]})."
        )
    if format != "auto":
        return format
    name = path.name.lower()
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    raise DataError(
        f"cannot tell the format of data file '{path}' from its name; expected "
        f"{', '.join(CSV_SUFFIXES + PARQUET_SUFFIXES)}, a folder, or builtin:NAME. "
        "Set the data format (csv or parquet) to read it anyway."
    )


def _looks_like_audio(folder: Path) -> bool:
    """Whether a folder holds audio clips rather than images, judged by file names alone:
    its own files if any are media, else those of the first class folder (sorted) with some."""
    children = sorted((p for p in folder.iterdir() if _visible(p)), key=lambda p: p.name)
    own = [p.name for p in children]
    inner = ([q.name for q in p.iterdir() if _visible(q)] for p in children if p.is_dir())
    for names in itertools.chain([own], inner):  # lazily: stops at the first media found
        suffixes = {Path(name).suffix.lower() for name in names}
        if suffixes & (AUDIO_SUFFIXES | IMAGE_SUFFIXES):
            return not suffixes & IMAGE_SUFFIXES
    return False


def _read_csv_source(
    dataset: Dataset, path: Path, bad_rows: BadRows, encoding: str, delimiter: str
) -> None:
    """Read a CSV source into ``dataset``, recording dropped rows in its notes."""
    if delimiter == "," and path.name.lower().endswith((".tsv", ".tsv.gz")):
        delimiter = "\t"
        dataset.notes.append(f"'{path.name}' read as tab-separated (from its .tsv name).")
    frame, dropped = read_csv_lines(path, bad_rows=bad_rows, encoding=encoding, delimiter=delimiter)
    dataset.frames["all"] = frame
    dataset.dropped_rows = len(dropped)
    if dropped:
        dataset.notes.append(
            f"Dropped {len(dropped)} bad rows of '{path.name}' (bad_rows: drop): "
            f"{_lines_text(dropped)}."
        )
