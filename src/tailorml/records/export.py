"""onnx.json: what `tailor export` wrote, how the graph's inputs map to features,
and how closely it matches PyTorch."""

from __future__ import annotations

from tailorml.records.base import Part, Record


class GraphTensor(Part):
    """One graph input (named for its feature) or the output. A checkpoint-
    tokenized text input has a dynamic token axis, its padding id and width."""

    name: str
    dtype: str
    shape: list[int | str]
    feature: str | None = None
    pad_id: int | None = None
    max_tokens: int | None = None
    meaning: str | None = None  # the output's: logits, or standardised values


class Parity(Part):
    """Largest |ONNX − PyTorch| output on the first test rows."""

    rows: int
    max_abs_diff: float
    tolerance: float


class Int8Change(Part):
    """The int8 model's quality beside the fp32 one's on the same test rows."""

    file: str
    rows: int
    metric: str
    fp32: float
    int8: float
    change: float
    max_abs_diff: float


class OnnxReport(Record):
    """onnx.json, beside the exported file."""

    OMIT_NONE = True

    file: str
    format: str
    opset: int
    exporter: str
    tailorml_version: str
    export_seconds: float
    inputs: list[GraphTensor]
    output: GraphTensor
    parity: Parity
    int8: Int8Change | None = None
