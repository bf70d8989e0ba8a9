"""Request and response types generated from a run's input features.

One ``InputField`` per column a request row must carry: the model's input
features, plus the group column when the model decides with per-group
thresholds. From them come the pydantic types that both validate requests and
document them in OpenAPI, so the documentation cannot drift from what the
service accepts. Image pixels are validated by pydantic only for their
structure and range; ``rows.py`` turns them into arrays with numpy. Audio
clips are base64 text here (or files in a multipart form); ``rows.py`` decodes them.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union

import numpy as np
import soundfile
from annotated_types import Len
from pydantic import ConfigDict, Field, JsonValue, Strict, TypeAdapter, with_config
from typing_extensions import TypedDict

from tailorml.features import Preprocessor
from tailorml.records.explanations import RowExplanation
from tailorml.runs.run import Run
from tailorml.serve.settings import ServeSettings

REF = "#/components/schemas/{model}"
FLOAT32_MAX = float(np.finfo(np.float32).max)
PIXEL_LIMIT = 1e9  # far beyond any image, far below what overflows a network's float32
EXAMPLE_TEXT = "The service was quick and the staff were friendly."
EXAMPLE_SECONDS = 0.1  # the documented example clip (silence): short, to keep the document small

Kind = Literal["number", "category", "binary", "text", "image", "audio", "group"]
Number = Annotated[float, Strict(), Field(ge=-FLOAT32_MAX, le=FLOAT32_MAX)]
Pixel = Annotated[float, Strict(), Field(ge=-PIXEL_LIMIT, le=PIXEL_LIMIT)]
Text = Annotated[str, Strict()]


@dataclass(frozen=True)
class AudioSpec:
    """What an audio field takes.

    Attributes:
        sample_rate: Hz the model hears (clips are mono at this rate).
        seconds: the length the model brings every clip to (padded or trimmed).
        resample: whether clips at other rates or with several channels are
            converted (else refused).
        max_seconds: the longest clip the service accepts.
        max_bytes: the largest clip (file bytes) the service accepts.
    """

    sample_rate: int
    seconds: float
    resample: bool
    max_seconds: float
    max_bytes: int


@dataclass(frozen=True)
class InputField:
    """One column of a request row.

    Attributes:
        name: the column name, as in the training data.
        kind: the feature type, or ``group`` for the decision's group column.
        nullable: whether null is accepted (the preprocessing fills it in).
        description: what the value means and which values the model knows.
        choices: known categories, the two binary values, or the groups.
        image: (height, width, channels) the model takes, for images.
        resize: whether images of other sizes are resized (else rejected).
        audio: what an audio field takes (rate, length, limits).
        default: a valid value, for the playground's form.
        example: a valid value for the documented example request and the
            start-up prediction, when it differs from ``default``.
    """

    name: str
    kind: Kind
    nullable: bool
    description: str
    choices: tuple[str, ...] = ()
    image: tuple[int, int, int] | None = None
    resize: bool = False
    audio: AudioSpec | None = None
    default: JsonValue = None
    example: JsonValue = None


def input_fields(run: Run, settings: ServeSettings | None = None) -> list[InputField]:
    """The columns a request row must hold, in the model's feature order; audio
    fields carry the service's limits (``settings``, default the defaults)."""
    settings = settings or ServeSettings()
    fields = [field_for(pre, settings) for pre in run.bundle.features.inputs]
    decision = run.bundle.decision
    column = decision.group_attribute if decision and decision.group_thresholds else None
    if decision is not None and column and column not in {f.name for f in fields}:
        groups = tuple(sorted(decision.group_thresholds))
        fields.append(InputField(
            column, "group", False,
            f"Group for the per-group decision thresholds: {listing(groups)}; other "
            f"values use the global threshold {decision.threshold:g}.",
            groups, default=groups[0],
        ))  # fmt: skip
    return fields


def field_for(pre: Preprocessor, settings: ServeSettings | None = None) -> InputField:
    """The request column of one input feature, described from its fitted state."""
    state, options = pre.state, pre.options
    nullable = options.get("missing") != "fail"
    if pre.type == "number":
        mean = state["mean"]
        fill = f"gets the training {options['missing']}" if nullable else "is rejected"
        return InputField(
            pre.name, "number", nullable,
            f"A number (training range {state['min']:g} to {state['max']:g}, mean {mean:g}); "
            f"null {fill}.",
            default=float(f"{mean:.4g}"),
        )  # fmt: skip
    if pre.type == "category":
        known = tuple(state["vocab"][1:])
        return InputField(
            pre.name, "category", nullable,
            f"A category (text or a number): {listing(known)}; any other value counts as "
            "unknown.",
            known, default=known[0] if known else "",
        )  # fmt: skip
    if pre.type == "binary":
        values = tuple(state["values"])
        return InputField(
            pre.name, "binary", nullable,
            f"One of {listing(values)}; '{state['positive']}' is the positive value"
            + (", null counts as the other one." if nullable else "."),
            values, default=state["positive"],
        )  # fmt: skip
    if pre.type == "text":
        return InputField(
            pre.name, "text", True, f"Free text; {pre.reading()} (null: no text).",
            default="", example=EXAMPLE_TEXT,
        )  # fmt: skip
    if pre.type == "audio":
        return audio_field(pre, settings or ServeSettings())
    return image_field(pre)


def image_field(pre: Preprocessor) -> InputField:
    h, w, c = pre.state["height"], pre.state["width"], pre.state["channels"]
    size = "any size (resized to " if pre.options["resize"] else "exactly "
    channels = "1 to 4" if c == 1 else f"1 or {c}"
    return InputField(
        pre.name, "image", False,
        f"An image of {size}{h}×{w}{')' if pre.options['resize'] else ''} pixels: a nested "
        f"list H×W (or H×W×C with C = {channels}) of pixel values, which are divided by "
        f"{pre.options['scale']:g}; or a base64-encoded PNG or JPEG.",
        image=(h, w, c), resize=bool(pre.options["resize"]),
        default=[[0.0] * w for _ in range(h)],
    )  # fmt: skip


def audio_field(pre: Preprocessor, settings: ServeSettings) -> InputField:
    rate = int(pre.state.get("sample_rate") or pre.options["sample_rate"])
    seconds = round(int(pre.state["samples"]) / rate, 3)
    spec = AudioSpec(rate, seconds, bool(pre.options["resample"]), settings.max_audio_seconds,
                     settings.max_audio_bytes)  # fmt: skip
    other = (
        "clips at other rates are resampled and several channels averaged to mono"
        if spec.resample
        else "clips at other rates or with several channels are refused"
    )
    return InputField(
        pre.name, "audio", False,
        f"An audio clip: a WAV, FLAC or OGG file, base64-encoded (in a multipart/form-data "
        f"upload, the file itself), at most {spec.max_seconds:g} s and {spec.max_bytes:,} "
        f"bytes. The model hears mono {rate:,} Hz audio, the first {seconds:g} s (shorter "
        f"clips are padded with silence); {other}.",
        audio=spec, example=silent_wav(rate, min(seconds, EXAMPLE_SECONDS)),
    )  # fmt: skip


def silent_wav(rate: int, seconds: float) -> str:
    """A mono 16-bit WAV file of silence, base64-encoded."""
    buffer = io.BytesIO()
    samples = np.zeros(max(1, round(rate * seconds)), dtype=np.int16)
    soundfile.write(buffer, samples, rate, format="WAV", subtype="PCM_16")
    return base64.b64encode(buffer.getvalue()).decode()


def listing(values: tuple[str, ...], most: int = 20) -> str:
    """``'a', 'b', … (N in all)`` for descriptions."""
    shown = ", ".join(repr(v) for v in values[:most])
    return shown + (f", … ({len(values)} in all)" if len(values) > most else "")


def value_type(field: InputField) -> Any:
    """The pydantic annotation that validates one column's values."""
    base: Any
    if field.kind == "number":
        base = Number
    elif field.kind == "text":
        base = Text
    elif field.kind in ("category", "group"):
        base = first_match(Text | Number)
    elif field.kind == "binary":
        base = Literal[tuple(binary_values(field.choices))]
    elif field.kind == "audio":
        base = Annotated[Text, Field(json_schema_extra=audio_schema(field))]
    else:
        base = first_match(Text | pixel_lists(field))
    if field.nullable:
        base = base | None
    return Annotated[base, Field(description=field.description)]


def audio_schema(field: InputField) -> dict[str, JsonValue]:
    """OpenAPI keywords of a base64 audio clip: its encoding, and (as ``x-`` extensions)
    the rate and length the model takes and the service's limits."""
    assert field.audio is not None
    spec = field.audio
    return {
        "format": "byte",
        "contentEncoding": "base64",
        "contentMediaType": "audio/*",
        "x-sample-rate": spec.sample_rate,
        "x-model-seconds": spec.seconds,
        "x-resample": spec.resample,
        "x-max-seconds": spec.max_seconds,
        "x-max-bytes": spec.max_bytes,
    }


def upload_schema(fields: list[InputField]) -> dict[str, JsonValue]:
    """The ``multipart/form-data`` body of one row: a file part per audio (or image)
    field, a text part per other field, written as in JSON (empty: null)."""
    properties: dict[str, JsonValue] = {}
    for field in fields:
        if field.kind == "audio":
            extra = audio_schema(field)
            properties[field.name] = {
                "type": "string", "format": "binary", "contentMediaType": "audio/*",
                "description": field.description,
                **{k: v for k, v in extra.items() if k.startswith("x-")},
            }  # fmt: skip
        elif field.kind == "image":
            properties[field.name] = {
                "type": "string", "format": "binary", "contentMediaType": "image/*",
                "description": "A PNG or JPEG file. " + field.description,
            }  # fmt: skip
        else:
            properties[field.name] = TypeAdapter(value_type(field)).json_schema(ref_template=REF)
    return {
        "type": "object",
        "title": "PredictUpload",
        "description": "One row as a form: each audio input as a file (form field name = "
        "feature name), the other features as form fields.",
        "properties": properties,
        "required": [f.name for f in fields if not f.nullable],
        "additionalProperties": False,
    }


def first_match(union: Any) -> Any:
    """A union that takes its first matching member: pydantic's default "smart"
    mode validates every member, which for a 28×28 image is 4× slower."""
    return Annotated[union, Field(union_mode="left_to_right")]


def binary_values(values: tuple[str, ...]) -> list[str | int | bool]:
    """The JSON values that mean each training value: '1' may come as 1, 'True' as true."""
    accepted: list[str | int | bool] = list(values)
    for value in values:
        if value.lstrip("-").isdigit():
            accepted.append(int(value))
        if value in ("True", "False"):
            accepted.append(value == "True")
    return accepted


def pixel_lists(field: InputField) -> Any:
    """Nested lists H×W, or H×W×C with the same C for every pixel, of finite
    numbers, sized as the model takes them."""
    assert field.image is not None
    h, w, c = field.image
    rows, cols = (Len(1), Len(1)) if field.resize else (Len(h, h), Len(w, w))
    gray = Annotated[list[Annotated[list[Pixel], cols]], rows]
    colors = [
        Annotated[list[Annotated[list[Annotated[list[Pixel], Len(k, k)]], cols]], rows]
        for k in ((1, 2, 3, 4) if c == 1 else (1, c))
    ]
    return Union[gray, *colors]  # noqa: UP007 (built from a list)


def typed_dict(name: str, fields: dict[str, object]) -> type:
    """A TypedDict made at run time: its keys are column names, which need
    not be Python identifiers."""
    make: Any = TypedDict
    return make(name, fields)


def request_type(fields: list[InputField]) -> type:
    """``{"rows": [PredictRow, …]}`` where PredictRow has one key per field."""
    row = typed_dict("PredictRow", {f.name: value_type(f) for f in fields})
    row = with_config(ConfigDict(extra="forbid", allow_inf_nan=False))(row)
    rows = Annotated[list[row], Field(min_length=1, description="The rows to predict.")]  # type: ignore[valid-type]
    request = typed_dict("PredictRequest", {"rows": rows})
    return with_config(ConfigDict(extra="forbid"))(request)


def response_types(run: Run) -> dict[str, type]:
    """The documented response bodies, by component name."""
    target = run.bundle.features.target
    if target.task == "regression":
        value = Annotated[float, Field(description=f"The predicted '{target.name}'.")]
        prediction = typed_dict("Prediction", {"value": value})
    else:
        labels = tuple(target.labels)
        probability = Annotated[float, Field(description="Probability between 0 and 1.")]
        label = Annotated[
            Literal[labels],  # type: ignore[valid-type]
            Field(description="The decided label (with the model's thresholds)."),
        ]
        probabilities = typed_dict("Probabilities", dict.fromkeys(labels, probability))
        prediction = typed_dict("Prediction", {"label": label, "probabilities": probabilities})
    predictions = Annotated[list[prediction], Field(description="One per row, in order.")]  # type: ignore[valid-type]
    fixed = (ExplainResponse, ErrorResponse, Health, Ready)
    response = typed_dict("PredictResponse", {"predictions": predictions})
    return {"PredictResponse": response, **{kind.__name__: kind for kind in fixed}}


class ExplainResponse(TypedDict):
    explanations: list[RowExplanation]  # the record explanations.json holds


class ErrorItem(TypedDict):
    loc: list[str | int]
    msg: str


class ErrorResponse(TypedDict):
    """What went wrong, in one sentence naming the field (``detail``), and
    every problem found (``errors``)."""

    detail: str
    errors: list[ErrorItem]


class Health(TypedDict):
    status: str


class Ready(Health):
    backend: str
    family: str


def components(types: dict[str, type]) -> dict[str, dict[str, JsonValue]]:
    """OpenAPI component schemas of these types and everything they use."""
    schemas: dict[str, dict[str, JsonValue]] = {}
    for name, kind in types.items():
        schema = TypeAdapter(kind).json_schema(ref_template=REF)
        schemas.update(schema.pop("$defs", {}))
        schemas[name] = schema
    return schemas


def example_row(fields: list[InputField]) -> dict[str, JsonValue]:
    """A valid row: each field's example, or its default."""
    return {f.name: f.default if f.example is None else f.example for f in fields}
