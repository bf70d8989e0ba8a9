"""Request bodies to validated rows: a clear 4xx for every bad input, never a 500.

pydantic parses the JSON (in Rust) and checks every row against the types in
``schema.py``; images then become float32 arrays with numpy, which is much
faster than building them pixel by pixel. Every message names the field and
the row (``rows[3].image: …``).
"""

from __future__ import annotations

import base64
import binascii
import io
import json
from typing import Any

import numpy as np
from PIL import Image
from pydantic import TypeAdapter, ValidationError

from tailorml.errors import dash_hint
from tailorml.serve.schema import PIXEL_LIMIT, ErrorItem, ErrorResponse, InputField, request_type

IMAGE_FORMATS = ("PNG", "JPEG")
KEPT_MODES = {"L", "RGB", "RGBA", "I", "I;16", "F"}
MAX_IMAGE_PIXELS = 64 * 1024 * 1024  # a resizable image may not decode to more than this
EXPECTED = {"number": "a number", "category": "text or a number", "group": "text or a number",
            "text": "text"}  # fmt: skip

# One validated request row: column name → value, images as (H, W, C) float32 arrays.
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
        self.adapter: TypeAdapter[Any] = TypeAdapter(request_type(fields))

    def read(self, body: bytes) -> list[Row]:
        """The rows of a ``{"rows": [...]}`` body, images as (H, W, C) float32 arrays.

        Raises:
            ApiError: 422 naming the first bad field (and listing all of them).
        """
        try:
            rows: list[Row] = self.adapter.validate_json(body)["rows"]
        except ValidationError as err:
            raise self.invalid(err, body) from None
        for field in self.images:
            for i, row in enumerate(rows):
                row[field.name] = image_array(row[field.name], field, f"rows[{i}].{field.name}")
        return rows

    def invalid(self, err: ValidationError, body: bytes) -> ApiError:
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
            if field is not None and field.kind == "image" and item["type"] != "missing":
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
    assert field.image is not None
    h, w, c = field.image
    size = "an H×W" if field.resize else f"a {h}×{w}"
    return (
        f"expected {size} (or {size}×C) nested list of numbers, or a base64-encoded PNG "
        "or JPEG string"
    )


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
