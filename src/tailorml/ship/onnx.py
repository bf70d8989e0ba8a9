"""ONNX export of a deep model's network, and ONNX Runtime to run it.

Only the network goes to ONNX. Preprocessing stays in Python, driven by the
bundle's JSON state, so the graph takes the encoded tensors (one input per input
feature, named after it, with a dynamic batch axis) and returns the raw outputs
``TailorModel`` gives: logits ``(B, K)``, or ``(B, 1)`` for binary and number.
An audio input is its spectrogram frames ``(B, 1, T, F)`` float32, T and F fixed
by the bundle's preprocessing; SpecAugment is training-only and not in the graph.
Text tokenized by a pretrained checkpoint also has a dynamic token axis (2 to
``max_length``): ONNX Runtime then runs rows in order of length, 16 at a time,
each batch cut to its longest text, as PyTorch does.
Written beside the ONNX file (by default in the bundle folder ``RUN/model/``):

    model.onnx        the fp32 network
    model.int8.onnx   with ``quantize="int8"``: weights dynamically quantized
    onnx.json         inputs (ONNX name, feature, dtype, shape), opset, and the
                      parity and accuracy figures measured at export

The exporter is ``torch.export``'s (``dynamo=True``): the legacy TorchScript one
is deprecated and fails on a unidirectional LSTM's packed sequences.
"""

from __future__ import annotations

import io
import logging
import re
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any, cast

import numpy as np
import onnxruntime as ort
import pandas as pd
import torch
from torch import nn

from tailorml import __version__
from tailorml.errors import TailorError
from tailorml.features import FeatureMeta, Target
from tailorml.features.splits import read_splits
from tailorml.io import atomic_write_bytes, replacing
from tailorml.models import TailorModel
from tailorml.models.model import module_key
from tailorml.records.export import GraphTensor, Int8Change, OnnxReport, Parity
from tailorml.runs.run import Run, load
from tailorml.train import predict_outputs

OPSET = 18
OUTPUT = "outputs"
REPORT = "onnx.json"
PARITY_ROWS = 100
PARITY_TOLERANCE = 1e-4
ACCURACY_ROWS = 1000
QUANTIZATIONS = ("int8",)
MIN_TOKENS = 2  # [CLS] and [SEP]; a token axis of 1 would be specialised into the graph
BATCH = 1024
TEXT_BATCH = 16  # rows per call of length-sorted text: MiniLM ran 2-3x faster than at 1024
DYNAMIC = ["MatMul", "Gemm", "LSTM", "GRU", "Attention"]  # op types int8 quantizes


def export_onnx(
    run_dir: Path, quantize: str | None = None, output: Path | None = None
) -> dict[str, Any]:
    """Export a run's network to ONNX, checked against PyTorch on its test rows.

    Args:
        run_dir: a run folder, or a bare bundle folder.
        quantize: ``"int8"`` also writes ``<name>.int8.onnx`` with int8 weights
            and reports its accuracy change on up to 1,000 test rows.
        output: the ONNX file; default ``model.onnx`` in the bundle folder.

    Returns:
        What ``onnx.json`` (beside the ONNX file) holds, plus ``folder``.

    Raises:
        TailorError: not a deep model; an encoder that cannot be exported;
            outputs more than 1e-4 from PyTorch's on 100 test rows (then
            nothing is written); an unknown ``quantize``.
    """
    if quantize is not None and quantize not in QUANTIZATIONS:
        raise TailorError(f"--quantize takes {', '.join(QUANTIZATIONS)}, not {quantize!r}.")
    run = load(run_dir)
    if not run.family.capabilities.onnx:  # a family that declares it builds a TailorModel
        raise TailorError(
            f"ONNX export is for deep models; this run is a '{run.bundle.family}' model."
        )
    model = cast(TailorModel, run.bundle.model).eval()
    path = output or (run_dir / "model" if run.path is not None else run_dir) / "model.onnx"
    started = time.perf_counter()
    encoders = {f.name: getattr(f.encoder, "name", "?") for f in run.config.input_features}
    network, specs = export_network(model, run.bundle.features.metas(), encoders)
    seconds = time.perf_counter() - started
    rows = held_out_rows(run, ACCURACY_ROWS if quantize else PARITY_ROWS)
    encoded = run.bundle.features.encode(rows, "test")
    parity = check_parity(model, new_session(network), specs, encoded.inputs)
    (path.parent / REPORT).unlink(missing_ok=True)  # no report until every file is in place
    atomic_write_bytes(path, network)
    report = OnnxReport(
        file=path.name, format="onnx", opset=OPSET,
        exporter=f"torch.onnx.export(dynamo=True), torch {torch.__version__}",
        tailorml_version=__version__, export_seconds=round(seconds, 2),
        inputs=specs, output=output_spec(run), parity=parity,
    )  # fmt: skip
    int8_path = path.with_name(f"{path.stem}.int8.onnx")
    int8_path.unlink(missing_ok=True)  # a stale one would not match this model
    if quantize:
        assert encoded.target is not None
        quantize_int8(path, int8_path)
        report.int8 = quantization_change(
            path, int8_path, specs, encoded.inputs, encoded.target, run.bundle.features.target
        )
    report.write(path.parent / REPORT)
    return {**report.dump(), "folder": str(path.parent)}


def held_out_rows(run: Run, limit: int) -> pd.DataFrame:
    """The first ``limit`` rows of the run's own test split."""
    frames, _ = read_splits(run.config)
    if "test" not in frames:
        raise TailorError("this run's data has no test split to check the export on.")
    return frames["test"].iloc[:limit].reset_index(drop=True)


def output_spec(run: Run) -> GraphTensor:
    width = run.bundle.features.target.n_outputs
    meaning = "values, standardised" if run.bundle.features.target.kind == "number" else "logits"
    return GraphTensor(name=OUTPUT, dtype="float32", shape=["batch", width], meaning=meaning)


class Positional(nn.Module):
    """The model with one positional input per feature, as ONNX graphs take them."""

    def __init__(self, model: TailorModel):
        super().__init__()
        self.model = model

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.model(dict(zip(self.model.names, inputs, strict=True)))  # (B, K)


def export_network(
    model: TailorModel, metas: Mapping[str, FeatureMeta], encoders: Mapping[str, str]
) -> tuple[bytes, list[GraphTensor]]:
    """The network (in eval mode) as a serialised ONNX model, and its inputs in order;
    ``encoders`` names each input feature's encoder for error messages.

    Raises:
        TailorError: naming the first encoder that cannot be exported, and why.
    """
    names = onnx_names(model.names)
    specs = [input_spec(names[feature], metas[feature]) for feature in model.names]
    try:
        network = to_onnx(Positional(model), [metas[f] for f in model.names], list(names.values()))
    except Exception as err:
        raise export_failure(model, metas, encoders, err) from err
    return network, specs


def input_spec(name: str, meta: FeatureMeta) -> GraphTensor:
    """One graph input; checkpoint-tokenized text also gets a dynamic token axis
    (``NAME_tokens``), its padding id and its longest width."""
    tokens = dynamic_tokens(meta)
    return GraphTensor(
        name=name, feature=meta.name, dtype=meta.dtype,
        shape=["batch", f"{name}_tokens"] if tokens else ["batch", *meta.shape],
        pad_id=meta.pad_id if tokens else None, max_tokens=meta.shape[0] if tokens else None,
    )  # fmt: skip


def dynamic_tokens(meta: FeatureMeta) -> bool:
    """Token ids right-padded with a checkpoint's padding id, which the pretrained
    encoder reads at any width: their token axis can be dynamic."""
    return meta.architecture is not None and len(meta.shape) == 1 and meta.shape[0] > MIN_TOKENS


def onnx_names(features: Sequence[str]) -> dict[str, str]:
    """Feature name → graph input name: letters, digits and ``_``, unique."""
    names: dict[str, str] = {}
    for feature in features:
        base = re.sub(r"\W", "_", feature, flags=re.ASCII)
        base = base if base and not base[0].isdigit() else f"input_{base}"
        name, n = base, 2
        while name in names.values() or name == OUTPUT:
            name, n = f"{base}_{n}", n + 1
        names[feature] = name
    return names


def to_onnx(module: nn.Module, metas: Sequence[FeatureMeta], names: list[str]) -> bytes:
    """Export ``module`` taking one batch per meta, with a shared dynamic batch axis
    and, for checkpoint-tokenized text, a dynamic token axis of its own."""
    # Two rows: a batch of one would be specialised into the graph.
    example = tuple(torch.zeros(2, *m.shape, dtype=getattr(torch, m.dtype)) for m in metas)
    batch = torch.export.Dim("batch", min=1)
    dynamic = tuple(
        {0: batch, 1: torch.export.Dim(f"{name}_tokens", min=MIN_TOKENS, max=m.shape[0])}
        if dynamic_tokens(m) else {0: batch}
        for m, name in zip(metas, names, strict=True)
    )  # fmt: skip
    with quiet_exporter():
        program = torch.onnx.export(
            module, example, input_names=names, output_names=[OUTPUT], opset_version=OPSET,
            # Positional takes *inputs: torch.export reads it as one tuple argument
            dynamic_shapes=(dynamic,) if isinstance(module, Positional) else dynamic,
            dynamo=True, verbose=False,
        )  # fmt: skip
    assert program is not None
    return bytes(program.model_proto.SerializeToString())


def advice(record: logging.LogRecord) -> bool:
    """False for the quantizer's advice to pre-process, logged on the root logger."""
    return not str(record.msg).startswith("Please consider to run pre-processing")


@contextmanager
def quiet_exporter() -> Iterator[None]:
    """Keep the exporter's warnings, and the graphs it prints when it fails, out of
    the user's terminal: a failure becomes one TailorError naming its cause."""
    torch_logger = logging.getLogger("torch")  # torch.* loggers inherit its level
    level = torch_logger.level
    torch_logger.setLevel(logging.ERROR)
    logging.getLogger().addFilter(advice)
    try:
        with (
            warnings.catch_warnings(action="ignore"),
            redirect_stdout(io.StringIO()),
            redirect_stderr(io.StringIO()),
        ):
            yield
    finally:
        torch_logger.setLevel(level)
        logging.getLogger().removeFilter(advice)


def export_failure(
    model: TailorModel, metas: Mapping[str, FeatureMeta], encoders: Mapping[str, str],
    error: Exception,
) -> TailorError:  # fmt: skip
    """Export each encoder alone to name the one that fails."""
    for feature in model.names:
        try:
            to_onnx(model.encoders[module_key(feature)], [metas[feature]], ["x"])
        except Exception as err:
            return TailorError(
                f"the '{encoders.get(feature, '?')}' encoder of input feature '{feature}' "
                f"cannot be exported to ONNX: {reason(err)}"
            )
    return TailorError(f"this model cannot be exported to ONNX: {reason(error)}")


def reason(error: BaseException) -> str:
    """The root cause's type and first line: exporter messages run to pages."""
    while error.__cause__ is not None:
        error = error.__cause__
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def check_parity(
    model: TailorModel, session: ort.InferenceSession, specs: list[GraphTensor],
    inputs: Mapping[str, torch.Tensor],
) -> Parity:  # fmt: skip
    """Largest |ONNX − PyTorch| output on the first 100 rows; a graph with a
    dynamic token axis is checked both on trimmed batches and at full width.

    Raises:
        TailorError: it exceeds 1e-4 (or is not finite).
    """
    rows = {name: tensor[:PARITY_ROWS] for name, tensor in inputs.items()}
    expected = predict_outputs(model, rows, PARITY_ROWS, "fp32").numpy()
    widths = (True, False) if any(spec.pad_id is not None for spec in specs) else (True,)
    diff = max(
        float(np.max(np.abs(run_session(session, specs, rows, trim=trim) - expected)))
        for trim in widths
    )
    if not diff <= PARITY_TOLERANCE:
        raise TailorError(
            f"the ONNX model's outputs differ from PyTorch's by up to {diff:.3g} on "
            f"{len(expected)} test rows, more than {PARITY_TOLERANCE:g}; nothing was written."
        )
    return Parity(rows=len(expected), max_abs_diff=diff, tolerance=PARITY_TOLERANCE)


def quantize_int8(source: Path, target: Path) -> None:
    """Dynamic quantization: int8 weights, activations quantized on the fly.

    Convolutions stay fp32: ONNX Runtime's CPU ConvInteger ran 10× slower
    than the fp32 Conv on the seed CNN, and dense layers hold most weights.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with replacing(target) as staging, quiet_exporter():
        quantize_dynamic(source, staging, weight_type=QuantType.QInt8, op_types_to_quantize=DYNAMIC)


def quantization_change(
    fp32: Path, int8: Path, specs: list[GraphTensor], inputs: Mapping[str, torch.Tensor],
    target: torch.Tensor, kind: Target,
) -> Int8Change:  # fmt: skip
    """Quality of the fp32 and int8 models on the same rows, and the change."""
    full, small = (run_session(new_session(path), specs, inputs) for path in (fp32, int8))
    before, after = quality(kind, full, target), quality(kind, small, target)
    return Int8Change(
        file=int8.name, rows=len(target), metric="mae" if kind.kind == "number" else "accuracy",
        fp32=before, int8=after, change=after - before,
        max_abs_diff=float(np.max(np.abs(small - full))),
    )  # fmt: skip


def quality(target: Target, outputs: np.ndarray, truth: torch.Tensor) -> float:
    """Argmax accuracy for classification, mean absolute error in target units."""
    out = torch.from_numpy(outputs)
    if target.kind == "number":
        return float(np.mean(np.abs(target.values(out) - target.values(truth.reshape(-1, 1)))))
    predicted = target.probabilities(out).argmax(axis=1)
    return float(np.mean(predicted == target.class_ids(truth)))


class OnnxModel:
    """A network exported by :func:`export_onnx`, run by ONNX Runtime on the CPU.

    Args:
        folder: where ``onnx.json`` and the ONNX file are (a run's ``model/``).
        threads: ONNX Runtime's intra-op threads; None: as many as PyTorch
            uses (``torch.get_num_threads()``).
        quantized: run the int8 model instead of the fp32 one.

    Raises:
        TailorError: no export in the folder, or no int8 one when asked.
    """

    def __init__(self, folder: Path, threads: int | None = None, quantized: bool = False):
        if not (folder / REPORT).is_file():
            raise TailorError(f"no ONNX export in '{folder}'; run `tailor export` first.")
        self.report = OnnxReport.read(folder / REPORT)
        if quantized and self.report.int8 is None:
            raise TailorError(f"no int8 model in '{folder}'; export with --quantize int8.")
        file = self.report.int8.file if quantized and self.report.int8 else self.report.file
        self.specs: list[GraphTensor] = self.report.inputs
        self.session = new_session(folder / file, threads)

    @property
    def features(self) -> list[str]:
        """The input features the model takes, in graph order."""
        return [spec.feature or spec.name for spec in self.specs]

    def outputs(
        self, inputs: Mapping[str, np.ndarray | torch.Tensor], batch_size: int | None = None
    ) -> np.ndarray:
        """Raw outputs ``(N, K)`` float32 (or ``(N, 1)``), as ``TailorModel`` gives for
        the same encoded inputs (``Encoded.inputs``: arrays or CPU tensors);
        ``batch_size`` rows per call, as :func:`run_session` takes them."""
        return run_session(self.session, self.specs, inputs, batch_size)


def new_session(model: bytes | Path, threads: int | None = None) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3  # errors only
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def run_session(
    session: ort.InferenceSession,
    specs: list[GraphTensor],
    inputs: Mapping[str, np.ndarray | torch.Tensor],
    batch_size: int | None = None,
    trim: bool = True,
) -> np.ndarray:
    """Feed each feature's batch to its graph input, ``batch_size`` rows at a time.

    With ``trim``, rows with a dynamic token axis go in order of length, 16 at
    a time unless ``batch_size`` says otherwise, and each batch is cut to its
    longest text; outputs come back in row order. Without, 1,024 at a time.
    """
    missing = [spec.feature for spec in specs if spec.feature not in inputs]
    if missing:
        raise TailorError(f"the ONNX model needs input feature(s) {', '.join(map(repr, missing))}.")
    feeds = {
        spec.name: np.ascontiguousarray(inputs[spec.feature or spec.name], dtype=spec.dtype)
        for spec in specs
    }
    rows = len(next(iter(feeds.values())))
    if rows == 0:
        raise TailorError("no rows to run the ONNX model on.")
    tokens = [spec for spec in specs if spec.pad_id is not None] if trim else []
    batch_size = batch_size or (TEXT_BATCH if tokens else BATCH)
    order = None
    if tokens:  # shortest rows first: each batch then pads little
        order = np.argsort(sum(real_tokens(feeds, spec) for spec in tokens), kind="stable")
        feeds = {name: array[order] for name, array in feeds.items()}
    batches = (
        {n: a[i : i + batch_size] for n, a in feeds.items()} for i in range(0, rows, batch_size)
    )
    out = np.concatenate([session.run([OUTPUT], shortest(batch, tokens))[0] for batch in batches])
    return out if order is None else out[np.argsort(order)]  # back in row order


def real_tokens(feeds: Mapping[str, np.ndarray], spec: GraphTensor) -> np.ndarray:
    """Tokens per row ``(N,)`` of a right-padded token input, padding left out."""
    return np.asarray((feeds[spec.name] != spec.pad_id).sum(1))


def shortest(batch: dict[str, np.ndarray], tokens: list[GraphTensor]) -> dict[str, np.ndarray]:
    """The batch with each token input cut to its longest row (at least 2 tokens):
    the columns after it are padding in every row."""
    for spec in tokens:
        longest = max(int(real_tokens(batch, spec).max()), MIN_TOKENS)
        batch[spec.name] = np.ascontiguousarray(batch[spec.name][:, :longest])
    return batch
