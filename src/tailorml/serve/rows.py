"""Request bodies to validated rows: a clear 4xx for every bad input, never a 500.

pydantic parses the JSON (in Rust) and checks every row against the types in
``schema.py``; images then become float32 arrays with numpy, which is much
faster than building them pixel by pixel. Every message names the field and
the row (``rows[3].image: …``).

Audio clips come as base64 text in JSON or as files in a multipart form (one
row per form), and are decoded here, before they reach a batch, so that every
error names the row and field (or the form field and its file) and is a 4xx:
an empty file, bytes that are not audio, a truncated WAV, another rate or
several channels when the model does not resample, a clip over the size (413)
or duration (422) limit. The model then gets mono samples at its rate, which
``AudioPreprocessor`` takes as they are. A text value is never read as a path
on the server. The duration limit holds before decoding: a header that declares
more is refused, and at most that many frames are read (a small FLAC file of
silence can hold hours).
"""

from __future__ import annotations

import base64
import binascii
import io
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import soundfile
from PIL import Image
from pydantic import TypeAdapter, ValidationError

from tailorml.errors import dash_hint
from tailorml.features.audio import to_mono, truncation
from tailorml.serve.schema import PIXEL_LIMIT, ErrorItem, ErrorResponse, InputField, request_type

IMAGE_FORMATS = ("PNG", "JPEG")
KEPT_MODES = {"L", "RGB", "RGBA", "I", "I;16", "F"}
MAX_IMAGE_PIXELS = 64 * 1024 * 1024  # a resizable image may not decode to more than this
EXPECTED = {"number": "a number", "category": "text or a number", "group": "text or a number",
            "text": "text"}  # fmt: skip
FILE_KINDS = ("audio", "image")  # fields a multipart form sends as files
UNKNOWN_FRAMES = 1 << 62  # libsndfile's frame count when a header does not say

# One validated request row: column name → value, images as (H, W, C) float32 arrays,
# audio as mono float32 samples at the model's rate.
Row = dict[str, str | int | float | bool | None | np.ndarray]


class ApiError(Exception):
    """A request the service refuses: HTTP status, one sentence, every problem."""

    def __init__(self, status: int, detail: str, errors: list[ErrorItem] | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors: list[ErrorItem] = [{"loc": [], "msg": detail}] if errors is None else errors

    def body(self) -> ErrorResponse:
        return {"detail": self.detail, "errors": self.errors}


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart form: the name the client gave it, and its bytes."""

    filename: str
    data: bytes


@contextmanager
def located(loc: list[str | int]) -> Iterator[None]:
    """ApiErrors raised inside name where in the request they are (``errors[0].loc``)."""
    try:
        yield
    except ApiError as err:
        raise ApiError(err.status, err.detail, [{"loc": loc, "msg": err.detail}]) from None


def where(loc: tuple[str | int, ...] | list[str | int]) -> str:
    """``('rows', 3, 'age')`` as ``rows[3].age``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "body"


class RowReader:
    """Reads request bodies for one model's input fields."""

    def __init__(self, fields: list[InputField]):
        self.fields = {f.name: f for f in fields}
        self.names = ", ".join(f"'{f.name}'" for f in fields)  # for messages
        self.images = [f for f in fields if f.kind == "image"]
        self.audio = [f for f in fields if f.kind == "audio"]
        self.adapter: TypeAdapter[Any] = TypeAdapter(request_type(fields))

    def read(self, body: bytes) -> list[Row]:
        """The rows of a ``{"rows": [...]}`` body, images as (H, W, C) float32 arrays,
        audio (base64 files) as samples.

        Raises:
            ApiError: 422 naming the first bad field (and listing all of them);
                413 for an audio clip over the size limit.
        """
        rows = self.validated(lambda: self.adapter.validate_json(body), body)
        for field in self.images:
            for i, row in enumerate(rows):
                row[field.name] = image_array(row[field.name], field, f"rows[{i}].{field.name}")
        for field in self.audio:
            for i, row in enumerate(rows):
                at = f"rows[{i}].{field.name}"
                with located(["rows", i, field.name]):
                    row[field.name] = clip_samples(from_base64(str(row[field.name]), at), field, at)
        return rows

    def read_form(self, parts: list[tuple[str, str | Upload]]) -> list[Row]:
        """The one row of a multipart form: a file part per audio (or image) field,
        a text part per other field, written as in JSON (a number as its digits;
        empty: null, text excepted).

        Raises:
            ApiError: 422 for an unknown, repeated or missing form field, a file
                where a value belongs (or the reverse), or a bad value or file;
                413 for a clip over the size limit.
        """
        row: dict[str, Any] = {}
        files: dict[str, Upload] = {}
        for name, value in parts:
            field = self.fields.get(name)
            if field is None:
                tip = dash_hint(name, self.fields) or "."
                raise ApiError(
                    422, f"unknown form field '{name}'{tip} The fields are {self.names}."
                )
            if name in row:
                raise ApiError(422, f"the form field '{name}' comes twice; a form holds one row.")
            if field.kind in FILE_KINDS:
                if not isinstance(value, Upload):
                    raise ApiError(422, f"{name}: send the {field.kind} as a file part (as curl "
                                   f"-F '{name}=@FILE' does), not as a text value.")  # fmt: skip
                files[name], row[name] = value, ""  # the file is checked once the row is
            elif isinstance(value, Upload):
                raise ApiError(422, f"{name}: expected a form value "
                               f"({expectation(field, '')}), not a file.")  # fmt: skip
            else:
                row[name] = form_value(value, field)
        for field in self.fields.values():
            if field.name in row:
                continue
            if not field.nullable:
                raise ApiError(422, f"the form has no field '{field.name}'; a form needs "
                               f"{self.names} (audio and images as files).")  # fmt: skip
            row[field.name] = None
        rows = self.validated(lambda: self.adapter.validate_python({"rows": [row]}), None)
        for name, upload in files.items():
            field = self.fields[name]
            at = f"{name} (file '{upload.filename[:100]}')" if upload.filename else name
            with located([name]):
                if field.kind == "audio":
                    rows[0][name] = clip_samples(upload.data, field, at)
                else:
                    rows[0][name] = check_image(image_bytes(upload.data, field, at), field, at)
        return rows

    def validated(self, validate: Callable[[], Any], body: bytes | None) -> list[Row]:
        """The rows pydantic validates, or a 422 naming each bad field (for a
        form, ``body`` None, without the ``rows[0].`` of a JSON body)."""
        try:
            rows: list[Row] = validate()["rows"]
        except ValidationError as err:
            error = self.invalid(err, body)
            if body is None:
                for item in error.errors:
                    item["msg"] = item["msg"].removeprefix("rows[0].")
                    item["loc"] = item["loc"][2:] or item["loc"]
                error = ApiError(422, error.errors[0]["msg"], error.errors)
            raise error from None
        return rows

    def invalid(self, err: ValidationError, body: bytes | None) -> ApiError:
        """A 422 from pydantic's errors, one message per bad field."""
        problems: dict[tuple[str | int, ...], ErrorItem] = {}
        for item in err.errors(include_url=False, include_context=False, include_input=False):
            loc = tuple(item["loc"])
            if len(loc) > 3 and loc[0] == "rows":
                loc = loc[:3]  # inside one field: union members, pixels
            if loc in problems:
                continue
            message = self.message(item["type"], loc, item["msg"])
            field = self.fields.get(str(loc[2])) if len(loc) == 3 else None
            if field is not None and field.kind == "image" and body and item["type"] != "missing":
                message = image_problem(body, loc, field) or message
            problems[loc] = {"loc": list(loc), "msg": message}
        items = list(problems.values())
        return ApiError(422, items[0]["msg"], items)

    def message(self, kind: str, loc: tuple[str | int, ...], text: str) -> str:
        """One sentence for one pydantic error."""
        if kind == "json_invalid":
            return f"the body is not valid JSON: {text.removeprefix('Invalid JSON: ')}."
        if len(loc) < 3 or loc[0] != "rows":
            if kind == "missing" and loc == ("rows",):
                return 'the body needs "rows": a list of row objects.'
            return f'{where(loc)}: {text[0].lower()}{text[1:]} (expected {{"rows": [{{…}}]}}).'
        row, name = where(loc[:2]), str(loc[2])
        if kind == "missing":
            return f"{row}: the field '{name}' is missing; every row needs {self.names}."
        if kind == "extra_forbidden":
            tip = dash_hint(name, self.fields) or "."
            return f"{row}: unknown field '{name}'{tip} The fields are {self.names}."
        return f"{row}.{name}: {expectation(self.fields[name], kind)}."


def expectation(field: InputField, kind: str) -> str:
    """What a field takes, for an error message."""
    null = " or null" if field.nullable else ""
    if kind in ("finite_number", "greater_than_equal", "less_than_equal"):
        return "numbers must be finite and within the float32 range (no NaN or infinity)"
    if field.kind == "binary":
        return f"expected one of {', '.join(repr(c) for c in field.choices)}{null}"
    if field.kind in EXPECTED:
        return f"expected {EXPECTED[field.kind]}{null}"
    if field.kind == "audio":
        return "expected an audio file (WAV, FLAC or OGG) as base64 text"
    assert field.image is not None
    h, w, c = field.image
    size = "an H×W" if field.resize else f"a {h}×{w}"
    return (
        f"expected {size} (or {size}×C) nested list of numbers, or a base64-encoded PNG "
        "or JPEG string"
    )


def form_value(text: str, field: InputField) -> str | float | None:
    """A form's text as the JSON value it stands for: a number's digits as a
    float, empty as null (but empty text is text)."""
    if text == "" and field.nullable and field.kind != "text":
        return None
    if field.kind == "number":
        try:
            return float(text)
        except ValueError:
            return text  # pydantic then says a number is expected
    return text


def image_problem(body: bytes, loc: tuple[Any, ...], field: InputField) -> str | None:
    """What exactly is wrong with an image pydantic rejected (None: nothing more
    specific to say). Only bad requests pay for parsing the body again."""
    try:
        value = json.loads(body)["rows"][loc[1]][loc[2]]
    except (ValueError, KeyError, IndexError, TypeError):
        return None
    if not isinstance(value, list):
        return None
    at = where(loc)
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            array = np.asarray(value, dtype=np.float64)
    except (ValueError, TypeError):
        return f"{at}: the nested lists are ragged or hold something other than numbers."
    if array.dtype == object:
        return f"{at}: the nested lists hold something other than numbers."
    if not np.isfinite(array).all():
        return f"{at}: pixel values must be finite numbers (no NaN or infinity)."
    if np.abs(array).max(initial=0) > PIXEL_LIMIT:
        return f"{at}: pixel values must be between -{PIXEL_LIMIT:g} and {PIXEL_LIMIT:g}."
    try:
        check_image(array, field, at)
    except ApiError as err:
        return err.detail
    return None


def image_array(value: Any, field: InputField, at: str) -> np.ndarray:
    """One image as a finite (H, W, C) float32 array the model can take.

    Raises:
        ApiError: 422 for a ragged list, a bad size or channel count, or bytes
            that are not a PNG or JPEG.
    """
    if isinstance(value, str):
        array = decode_image(value, field, at)
    else:
        try:
            array = np.asarray(value, dtype=np.float32)
        except ValueError:
            message = f"{at}: the nested lists are ragged; {expectation(field, '')}."
            raise ApiError(422, message) from None
    return check_image(array, field, at)


def check_image(array: np.ndarray, field: InputField, at: str) -> np.ndarray:
    """The image as (H, W, C), if its size and channels are as the image
    preprocessor will accept them."""
    assert field.image is not None
    c = field.image[2]
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or 0 in array.shape:
        raise ApiError(422, f"{at}: an image must be H×W or H×W×C, got shape {array.shape}.")
    check_size(array.shape[0], array.shape[1], field, at)
    channels = array.shape[2]
    if (c == 1 and channels > 4) or (c > 1 and channels not in (1, c)):
        allowed = "1 to 4" if c == 1 else f"1 or {c}"  # as ImagePreprocessor takes them
        raise ApiError(422, f"{at}: the image has {channels} channels; this model takes {allowed}.")
    if not np.isfinite(array).all():
        raise ApiError(422, f"{at}: pixel values must be finite numbers.")
    return array


def check_size(height: int, width: int, field: InputField, at: str) -> None:
    """A model that does not resize takes images of exactly its own size."""
    assert field.image is not None
    h, w, _ = field.image
    if not field.resize and (height, width) != (h, w):
        raise ApiError(
            422, f"{at}: the image is {height}×{width}; this model takes {h}×{w} images."
        )


def decode_image(text: str, field: InputField, at: str) -> np.ndarray:
    """A base64 PNG or JPEG (optionally a ``data:`` URL) as an (H, W[, C]) array."""
    if text.startswith("data:"):
        text = text.partition(",")[2]
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(422, f"{at}: the text is not valid base64.") from None
    return image_bytes(raw, field, at)


def image_bytes(raw: bytes, field: InputField, at: str) -> np.ndarray:
    """A PNG or JPEG file as an (H, W[, C]) array."""
    try:
        with Image.open(io.BytesIO(raw), formats=IMAGE_FORMATS) as img:
            check_size(img.size[1], img.size[0], field, at)
            if img.size[0] * img.size[1] > MAX_IMAGE_PIXELS:
                raise ApiError(422, f"{at}: the image has too many pixels ({img.size}).")
            if img.mode in KEPT_MODES:
                return np.asarray(img, dtype=np.float32)
            has_alpha = "A" in img.mode or "transparency" in img.info
            mode = "L" if img.mode == "LA" else "RGBA" if has_alpha else "RGB"
            return np.asarray(img.convert(mode), dtype=np.float32)
    except (OSError, ValueError, Image.DecompressionBombError, SyntaxError):
        raise ApiError(422, f"{at}: the bytes are not a PNG or JPEG image.") from None


# ---------------------------------------------------------------- audio


def from_base64(text: str, at: str) -> bytes:
    """The bytes of a base64 audio file (optionally a ``data:`` URL).

    Raises:
        ApiError: 422 when the text is not valid base64.
    """
    if text.startswith("data:"):
        text = text.partition(",")[2]
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(
            422, f"{at}: the text is not valid base64 (send the audio file's bytes base64-encoded)."
        ) from None


def clip_samples(data: bytes, field: InputField, at: str) -> np.ndarray:
    """One audio file's bytes as mono float32 samples at the model's rate.

    Raises:
        ApiError: 413 above the size limit; 422 for an empty, unreadable,
            truncated, too long or non-finite clip, or one at another rate or
            with several channels when the model does not resample.
    """
    spec = field.audio
    assert spec is not None
    if len(data) > spec.max_bytes:
        raise ApiError(413, f"{at}: the clip is {len(data):,} bytes, above the service's limit "
                       f"of {spec.max_bytes:,} bytes per clip.")  # fmt: skip
    if not data:
        raise ApiError(422, f"{at}: the audio file is empty (0 bytes).")
    cut = truncation(data)
    if cut:
        raise ApiError(422, f"{at}: the WAV file is {cut}.")
    samples, rate = read_clip(data, spec.max_seconds, at)
    if not np.isfinite(samples).all():
        raise ApiError(422, f"{at}: the clip holds samples that are not finite (NaN or infinity).")
    channels, wanted = samples.shape[1], spec.sample_rate
    if not spec.resample and (rate != wanted or channels != 1):
        raise ApiError(
            422, f"{at}: {channels} channel(s) at {rate:,} Hz, but this model takes mono "
            f"{wanted:,} Hz audio only (it was trained with preprocessing.resample: false); "
            f"convert the clip to mono {wanted:,} Hz first.",
        )  # fmt: skip
    return to_mono(samples, rate, wanted, True, at)  # as training converts clips


def read_clip(data: bytes, max_seconds: float, at: str) -> tuple[np.ndarray, int]:
    """Samples ``(L, channels)`` and the rate, reading at most ``max_seconds`` of them.

    Raises:
        ApiError: 422 when libsndfile cannot read the bytes, they hold no
            samples, or the clip is longer than ``max_seconds``.
    """
    try:
        with soundfile.SoundFile(io.BytesIO(data)) as sound:
            rate, frames = int(sound.samplerate), int(sound.frames)
            most = int(max_seconds * rate)
            if most < frames < UNKNOWN_FRAMES:
                raise too_long(f"lasts {frames / rate:,.1f} s", max_seconds, at)
            samples = sound.read(most + 1, dtype="float32", always_2d=True)
    except ApiError:
        raise
    except Exception as err:  # whatever libsndfile makes of them, the bytes are the client's
        reason = str(err).split(": ", 1)[-1].rstrip(".") or type(err).__name__
        raise ApiError(422, f"{at}: not a readable audio file ({reason}).") from None
    if len(samples) > most:
        raise too_long("is longer than that", max_seconds, at)
    if len(samples) == 0:
        raise ApiError(422, f"{at}: the audio file holds no samples.")
    return samples, rate


def too_long(lasts: str, max_seconds: float, at: str) -> ApiError:
    return ApiError(
        422, f"{at}: the clip {lasts}; the service takes clips of at most {max_seconds:g} s."
    )
