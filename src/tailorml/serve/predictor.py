"""The model behind the service: the run's own preprocessing, outputs and decisions.

Rows are encoded by the bundle's FeatureSet and decided by ``Run.decisions``
(the bundle's thresholds), exactly as ``Run.predict`` does; only the network
may run elsewhere: ONNX Runtime when the bundle holds an ONNX export, else
PyTorch (in inference mode, at the training's precision, as ``Run.outputs``).
Text read by a pretrained checkpoint goes through in order of length, in
batches of ``TEXT_BATCH`` rows cut to their longest text (ONNX Runtime batches
alike, see ``ship/onnx.py``): a served batch's texts vary in length, and the
padding saved costs more than the extra calls (2-3x faster on MiniLM).
Every method here runs on the batcher's worker thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypedDict

import numpy as np
import pandas as pd
import torch
from pydantic import JsonValue
from torch import nn

from tailorml.errors import DataError, TailorError
from tailorml.runs.run import Run, redact_like_training
from tailorml.serve.batching import Chunk
from tailorml.serve.rows import ApiError, Row
from tailorml.serve.schema import InputField

TABLE_KINDS = ("text", "category", "binary", "group")
TEXT_BATCH = 16  # rows per PyTorch call for text of varying length, as ship.onnx.TEXT_BATCH


class Answer(TypedDict, total=False):
    """One row's prediction: ``value`` for regression, else ``label`` and ``probabilities``."""

    value: float
    label: str
    probabilities: dict[str, float]


class Predictor:
    """Predicts and explains validated request rows of ``schema.input_fields(run)``;
    an ONNX export lives in ``bundle_dir`` (``RUN/model``).

    Raises:
        TailorError: ``onnx`` asked for a bundle without an ONNX export.
    """

    def __init__(self, run: Run, fields: list[InputField], bundle_dir: Path, backend: str):
        self.run = run
        self.fields = fields
        self.onnx: Any = None
        has_onnx = (bundle_dir / "model.onnx").is_file() and (bundle_dir / "onnx.json").is_file()
        if backend == "onnx" and not has_onnx:
            raise TailorError(
                f"--backend onnx: no ONNX export in '{bundle_dir}'; run `tailor export` first."
            )
        if has_onnx and backend != "torch":
            from tailorml.ship.onnx import OnnxModel

            self.onnx = OnnxModel(bundle_dir)
        self.backend = "onnx" if self.onnx is not None else "torch"
        self.family = run.bundle.family
        self.can_explain = run.family.capabilities.attribution is not None
        model = run.bundle.model
        # Convolutions and pooling run 2-3x faster on CPU in channels-last layout
        # (same results up to float rounding): weights converted here, images per batch.
        has_conv = isinstance(model, nn.Module) and any(p.dim() == 4 for p in model.parameters())
        self.channels_last = self.onnx is None and has_conv
        if self.channels_last:
            model.to(memory_format=torch.channels_last)
        self.labels = run.bundle.features.target.labels

    def frame(self, rows: Sequence[Row]) -> pd.DataFrame:
        """Rows as the table the FeatureSet reads: numbers as float64 columns,
        everything else (images as arrays) in object columns."""
        columns: dict[str, np.ndarray] = {}
        for field in self.fields:
            values = [row[field.name] for row in rows]
            if field.kind == "number":
                columns[field.name] = np.array([np.nan if v is None else v for v in values])
            else:  # fromiter keeps each image array whole, as one object
                columns[field.name] = np.fromiter(values, dtype=object, count=len(values))
        return pd.DataFrame(columns)

    def protect(self, rows: pd.DataFrame) -> pd.DataFrame:
        """The training's personal-data policy, applied to request rows.

        ``redact`` replaces personal data as training did. Under ``fail`` or
        ``drop_column`` training only kept inputs free of personal data, so a
        request holding some is refused.

        Raises:
            ApiError: 422 under ``fail`` / ``drop_column`` when personal data is found.
        """
        data = self.run.config.data
        if data.pii == "allow":
            return rows
        from tailorml.data.pii import is_text, scan

        wanted = data.pii_columns or [f.name for f in self.fields if f.kind in TABLE_KINDS]
        columns = [c for c in wanted if c in rows.columns and is_text(rows[c])]
        if not columns:
            return rows
        if data.pii == "redact":
            return redact_like_training(rows, data.model_copy(update={"pii_columns": columns}))
        found = {c: n for c, n in scan(rows, columns).items() if n}
        if found:
            what = "; ".join(f"{c}: {', '.join(sorted(n))}" for c, n in found.items())
            raise ApiError(
                422,
                f"the rows hold personal data ({what}); this model's data.pii policy is "
                f"'{data.pii}', so it takes no personal data.",
            )
        return rows

    def outputs(self, rows: pd.DataFrame) -> torch.Tensor:
        """Raw network outputs (N, K) for protected rows, as ``Run.outputs`` gives."""
        encoded = self.run.bundle.features.encode(rows, "prediction", with_target=False)
        if self.channels_last:  # images (N, C, H, W) only
            encoded.inputs = {
                name: x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x
                for name, x in encoded.inputs.items()
            }
        if self.onnx is not None:
            return torch.from_numpy(self.onnx.outputs(encoded.inputs))
        return self.run.outputs(encoded, length_batch=TEXT_BATCH)

    def predict(self, chunks: Sequence[Chunk[Row]]) -> list[list[Answer] | Exception]:
        """Predictions for a batch of requests' rows: one result (or error) per chunk.

        The chunks' rows go through the model together; a chunk whose rows are
        refused (personal data, values the model cannot take) gets its own
        error, the others their predictions.
        """
        results: list[list[Answer] | Exception] = [[] for _ in chunks]
        if self.run.config.data.pii == "allow":  # one table for the batch
            table = self.frame([row for chunk in chunks for row in chunk.items])
            kept = list(range(len(chunks)))
        else:  # each request's personal data on its own: one may be refused
            frames = {}
            for i, chunk in enumerate(chunks):
                try:
                    frames[i] = self.protect(self.frame(chunk.items))
                except (ApiError, DataError) as err:
                    results[i] = as_api_error(err)
            if not frames:
                return results
            table, kept = pd.concat(frames.values(), ignore_index=True), list(frames)
        try:
            answers = self.answers(table)
        except (ApiError, DataError) as err:
            if len(kept) == 1:
                results[kept[0]] = as_api_error(err, chunks[kept[0]].start)
            for i in kept if len(kept) > 1 else ():  # find the chunk at fault: each alone
                results[i] = self.predict([chunks[i]])[0]
            return results
        start = 0
        for i in kept:
            results[i] = answers[start : start + len(chunks[i].items)]
            start += len(chunks[i].items)
        return results

    def answers(self, table: pd.DataFrame) -> list[Answer]:
        """One JSON-ready prediction per row, decided as ``Run.predict`` decides."""
        out = finite(self.outputs(table))
        predicted, proba = self.run.decisions(out, table)
        if proba is None:
            return [{"value": v} for v in predicted.astype(float).tolist()]
        return [
            {"label": label, "probabilities": dict(zip(self.labels, p, strict=True))}
            for label, p in zip(predicted.tolist(), proba.tolist(), strict=True)
        ]

    def explain(self, rows: Sequence[Row], start: int = 0) -> list[dict[str, JsonValue]]:
        """Attributions of each row's decision (``explain_rows``), in order;
        ``start`` is the first row's index in its request."""
        from tailorml.audit.explain import explain_rows

        table = self.protect(self.frame(rows))
        finite(self.outputs(table), start)
        try:
            explanations = explain_rows(self.run, table)
        except DataError as err:
            raise as_api_error(err) from None
        return [item.model_dump(mode="json") | {"row": item.row + start} for item in explanations]


class RowError(ApiError):
    """A row whose values are too large for the model: its output is not finite."""

    def __init__(self, row: int):
        super().__init__(
            422,
            f"rows[{row}]: the model's output is not finite; its values are too large for "
            "the model.",
        )
        self.row = row


def finite(out: torch.Tensor, start: int = 0) -> torch.Tensor:
    """The outputs (N, K); a RowError names the first row (counted from ``start``)
    whose outputs are not finite."""
    bad = np.flatnonzero(~torch.isfinite(out).all(dim=1).numpy())
    if len(bad):
        raise RowError(int(bad[0]) + start)
    return out


def as_api_error(err: Exception, start: int = 0) -> ApiError:
    """A preprocessing error on request rows is the client's: 422. Row numbers
    count from the start of the request, not of its chunk."""
    if isinstance(err, RowError):
        return RowError(err.row + start)
    return err if isinstance(err, ApiError) else ApiError(422, str(err))
