"""A run: a folder on disk with config, model, metrics, history and report."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import pandas as pd
import torch

from tailorml.config import DataConfig, ModelConfig
from tailorml.data.readers import read_source
from tailorml.errors import DataError, TailorError
from tailorml.evaluate import evaluate as score
from tailorml.features import Encoded
from tailorml.models.family import ModelFamily, family_named
from tailorml.records.metrics import Metrics, Scores
from tailorml.runs.bundle import Bundle, load_bundle

DataLike: TypeAlias = str | Path | pd.DataFrame


def read_rows(data: DataLike, like: DataConfig) -> tuple[pd.DataFrame, int]:
    """Rows to evaluate or predict on: a frame, a file or ``builtin:NAME``.

    A source with its own split gives its test rows. Reading follows the
    training config's encoding, bad-row policy and audio file-name pattern.
    """
    if isinstance(data, pd.DataFrame):
        return redact_like_training(data.reset_index(drop=True), like), 0
    dataset = read_source(
        str(data), bad_rows=like.bad_rows, encoding=like.encoding, delimiter=like.delimiter,
        pattern=like.pattern,
    )  # fmt: skip
    frames = dataset.frames
    rows = frames.get("test", frames.get("all"))
    if rows is None:
        rows = pd.concat(list(frames.values()), ignore_index=True)
    return redact_like_training(rows.reset_index(drop=True), like), dataset.dropped_rows


def redact_like_training(rows: pd.DataFrame, like: DataConfig) -> pd.DataFrame:
    """Rows get the same personal-data redaction the model was trained with."""
    if like.pii != "redact":
        return rows
    from tailorml.data.pii import redact

    return redact(rows, like.pii_columns)[0]


@dataclass
class Outcome:
    """Per-row truth and decisions of a model on labelled rows."""

    y_true: np.ndarray  # class ids, or values
    proba: np.ndarray | None  # (N, K) for classification
    decided: np.ndarray  # class ids, or values


class Run:
    """A trained model and its run folder.

    Attributes:
        path: the run folder, or None for a run not saved to disk.
        bundle: config, preprocessing and network.
        history: one dict of losses and metrics per training epoch.
        metrics: what ``metrics.json`` holds (evaluation per split, training).
    """

    def __init__(
        self,
        bundle: Bundle,
        path: Path | None = None,
        history: list[dict[str, float]] | None = None,
    ):
        self.bundle = bundle
        self.path = path
        self.history = history or []
        self.metrics = Metrics()

    @property
    def config(self) -> ModelConfig:
        return self.bundle.config

    @property
    def family(self) -> ModelFamily[Any]:
        """The model's family: what it can do, and how to run it."""
        return family_named(self.bundle.family)

    def outputs(
        self, encoded: Encoded, cache: bool = False, length_batch: int | None = None
    ) -> torch.Tensor:
        """Raw model outputs: logits (N, K), or (N, 1) for binary / number.

        With ``cache``, frozen pretrained encoders read (and fill) the disk
        cache of embeddings, as training does; evaluation uses it.
        ``length_batch``: rows per batch of text sorted by length.
        """
        model, config = self.bundle.model, self.config
        return self.family.outputs(model, encoded.inputs, config, cache, length_batch)

    def decide(self, proba: np.ndarray, rows: pd.DataFrame) -> np.ndarray:
        """Class ids: the decision thresholds for a binary model, else argmax."""
        decision = self.bundle.decision
        if decision is None or proba.shape[1] != 2:
            return proba.argmax(axis=1)
        column = decision.group_attribute
        if decision.group_thresholds and (column is None or column not in rows.columns):
            raise TailorError(
                f"this model decides with per-group thresholds on '{column}'; the rows lack "
                "that column."
            )
        groups = rows[column].to_numpy() if decision.group_thresholds and column else None
        return decision.apply(proba[:, 1], groups)

    def evaluate(self, data: DataLike, split: str = "evaluation") -> Scores:
        """Metrics of the model on labelled rows (with a 95% bootstrap CI)."""
        rows, dropped = read_rows(data, self.config.data)
        scores = self.score_rows(rows, split)
        if dropped:
            scores.dropped_rows = dropped
        return scores

    def outcome(self, rows: pd.DataFrame, split: str = "evaluation") -> Outcome:
        """Truth, probabilities and decided classes (or values) for labelled rows."""
        features = self.bundle.features
        encoded = features.encode(rows, split)
        assert encoded.target is not None
        out = self.outputs(encoded, cache=True)
        target = features.target
        if target.task == "regression":
            return Outcome(target.values(encoded.target.unsqueeze(1)), None, target.values(out))
        proba = target.probabilities(out)
        return Outcome(target.class_ids(encoded.target), proba, self.decide(proba, rows))

    def score_rows(self, rows: pd.DataFrame, split: str) -> Scores:
        """Metrics of the model's decisions on labelled rows."""
        result = self.outcome(rows, split)
        seed = self.config.training.seed
        if result.proba is None:
            return score("regression", result.y_true, result.decided, seed=seed)
        labels = self.bundle.features.target.labels
        return score("classification", result.y_true, result.proba, labels=labels,
                     seed=seed, predicted=result.decided)  # fmt: skip

    def predict(self, data: DataLike) -> pd.DataFrame:
        """One row per input row, in order: ``prediction`` and, for
        classification, ``probability_<label>`` per class. Under the training
        config's ``bad_rows: drop``, broken rows get no prediction; their count is
        ``frame.attrs["dropped_rows"]``."""
        rows, dropped = read_rows(data, self.config.data)
        out = self.outputs(self.bundle.features.encode(rows, "prediction", with_target=False))
        predicted, proba = self.decisions(out, rows)
        columns: dict[str, np.ndarray] = {"prediction": predicted}
        if proba is not None:
            labels = self.bundle.features.target.labels
            columns |= {f"probability_{label}": proba[:, i] for i, label in enumerate(labels)}
        frame = pd.DataFrame(columns)
        frame.attrs["dropped_rows"] = dropped
        return frame

    def decisions(
        self, out: torch.Tensor, rows: pd.DataFrame
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Per row, the decided label (or value, for regression), and the class
        probabilities (N, K) (None for regression), from raw model outputs."""
        target = self.bundle.features.target
        if target.task == "regression":
            return target.values(out), None
        proba = target.probabilities(out)
        return np.asarray(target.labels, dtype=object)[self.decide(proba, rows)], proba


def load(path: str | Path) -> Run:
    """Open a run folder (or a bare ``model/`` bundle folder)."""
    path = Path(path)
    if not path.exists():
        raise TailorError(f"run folder '{path}' does not exist.")
    if (path / "model" / "model.json").exists():
        run = Run(load_bundle(path / "model"), path, read_history(path / "history.csv"))
        run.metrics = read_metrics(path / "metrics.json")
        return run
    return Run(load_bundle(path), None)


def read_history(file: Path) -> list[dict[str, float]]:
    """A run's ``history.csv`` (none: an empty history).

    Raises:
        TailorError: the file is not a readable CSV table.
    """
    if not file.exists():
        return []
    try:
        return list(pd.read_csv(file).to_dict("records"))
    except ValueError as err:  # pandas ParserError, EmptyDataError
        raise TailorError(
            f"the run file '{file}' is corrupt or was edited: it is not a readable CSV table "
            f"({err}). Delete it to open the run without its training history."
        ) from None


def read_metrics(file: Path) -> Metrics:
    """A run's ``metrics.json`` (none: no metrics).

    Raises:
        TailorError: the file is not a metrics record.
    """
    if not file.exists():
        return Metrics()
    try:
        return Metrics.read(file)
    except DataError as err:
        raise TailorError(
            f"the run file '{file}' is corrupt or was edited: {err} Delete it to open the run "
            "without its recorded metrics."
        ) from None
