"""``train``: config → data → features → model → training → evaluation → run."""

from __future__ import annotations

import csv
import io
import random
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from tailorml.config import ModelConfig, dump_config, load_config
from tailorml.data.dataset import Dataset
from tailorml.data.readers import read_source
from tailorml.data.split import split_dataset
from tailorml.errors import ConfigError, DataError
from tailorml.features import Encoded, FeatureSet
from tailorml.features.tabular import parse_numbers
from tailorml.io import atomic_write_json, atomic_write_text
from tailorml.models import TailorModel
from tailorml.report import write_report
from tailorml.report.card import write_model_card
from tailorml.runs.bundle import Bundle, save_bundle
from tailorml.runs.run import Run
from tailorml.train import Trainer

ConfigLike = ModelConfig | dict[str, Any] | str | Path


def as_config(config: ConfigLike) -> ModelConfig:
    """Accept a config object, a dict or a YAML file path."""
    if isinstance(config, ModelConfig):
        return config
    if isinstance(config, dict):
        from pydantic import ValidationError

        try:
            return ModelConfig.model_validate(config)
        except ValidationError as err:
            from tailorml.config.loading import explain

            raise ConfigError(explain(err, ModelConfig, config, {}, "<config>")) from None
    return load_config(config)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def read_splits(
    config: ModelConfig, classification: bool | None = None
) -> tuple[dict[str, pd.DataFrame], int]:
    """Read the source and split it; returns frames and dropped-row count.

    ``classification`` (stratify by the target) defaults to the output type.
    """
    data = config.data

    def read(source: str) -> pd.DataFrame:
        extra = read_source(source, format=data.format, bad_rows=data.bad_rows,
                            encoding=data.encoding, delimiter=data.delimiter)  # fmt: skip
        return pd.concat(list(extra.frames.values()), ignore_index=True)

    dataset = read_source(
        data.source,
        format=data.format,
        bad_rows=data.bad_rows,
        encoding=data.encoding,
        delimiter=data.delimiter,
    )
    assert data.target is not None
    if classification is None:
        classification = config.output.type != "number"
    check_numbers(dataset, config, with_target=not classification)
    frames = split_dataset(dataset, data.split, data.target, classification, read)
    return protect(frames, config), dataset.dropped_rows


def check_numbers(dataset: Dataset, config: ModelConfig, with_target: bool) -> None:
    """Refuse text and infinite values in the number columns before the rows
    are split, so that the error names the row of the file, not of a split.

    Args:
        dataset: the rows as read.
        config: names the number input features (and the target).
        with_target: the target is a number too (a regression).

    Raises:
        DataError: naming the file, the column and the first bad rows.
    """
    columns = [f.name for f in config.input_features if f.type == "number"]
    if with_target:
        columns.append(str(config.data.target))
    for frame in dataset.frames.values():
        for name in columns:
            if name not in frame.columns:
                continue
            try:
                parse_numbers(name, frame[name])
            except DataError as err:
                raise DataError(f"data file '{dataset.name}', {err}") from None


def protect(frames: dict[str, pd.DataFrame], config: ModelConfig) -> dict[str, pd.DataFrame]:
    """Apply the config's personal-data policy to every split, before training.

    Raises:
        DataError: the policy is ``fail`` and personal data was found, or
            ``drop_column`` dropped a column an input feature needs.
    """
    policy = config.data.pii
    if policy == "allow":
        return frames
    from tailorml.data.pii import apply_policy

    protected = {name: apply_policy(frame, policy, config.data.pii_columns)[0]
                 for name, frame in frames.items()}  # fmt: skip
    needed = {f.name for f in config.input_features} | {config.output.name}
    for name, frame in protected.items():
        lost = sorted((needed & set(frames[name].columns)) - set(frame.columns))
        if lost:
            raise DataError(
                f"column(s) {', '.join(map(repr, lost))} hold personal data in the {name} split "
                "and data.pii is drop_column; remove them from the features or use pii: redact."
            )
    return protected


def train(
    config: ConfigLike,
    output: str | Path | None = None,
    *,
    resume: bool = False,
    quiet: bool = False,
) -> Run:
    """Train a model as the config says and save the run folder.

    Args:
        config: a ModelConfig, a dict, or a path to a YAML file.
        output: the run folder; None trains without writing anything.
        resume: continue from the run folder's last epoch checkpoint.
        quiet: no progress bar.

    Returns:
        The trained run, with metrics on the validation and test splits.
    """
    cfg, swapped = private_layers(as_config(config))
    seed_everything(cfg.training.seed)
    run_dir = Path(output) if output is not None else None
    frames, dropped = read_splits(cfg)
    features = FeatureSet.fit(cfg, frames["train"])
    encoded = {name: features.encode(frame, name) for name, frame in frames.items()}
    reweighing = reweigh_training(cfg, frames["train"], encoded["train"], features)
    model = TailorModel(cfg, features.metas(), features.target.n_outputs)
    checkpoints = run_dir / "checkpoint" if run_dir is not None else None
    trainer = Trainer(model, cfg.output.type, cfg.training, checkpoints, quiet)
    if checkpoints is not None and not resume and checkpoints.exists() and trainer.world.main:
        shutil.rmtree(checkpoints)
    if resume:
        trainer.resume()
    started = time.perf_counter()
    history = trainer.fit(encoded["train"], encoded.get("validation"))
    wall = time.perf_counter() - started
    if not trainer.world.main:  # the other ranks of a distributed run only train
        return Run(Bundle(cfg, features, model), None, history)
    run = Run(Bundle(cfg, features, model), run_dir, history)
    run.metrics = collect_metrics(run, frames, encoded, history, trainer, dropped, wall)
    if reweighing is not None:
        run.metrics["fairness"] = reweighing
    if swapped:
        run.metrics["privacy"]["changes"] = swapped
    if run_dir is not None:
        save_run(run_dir, run)
    return run


def private_layers(config: ModelConfig) -> tuple[ModelConfig, list[str]]:
    """Under DP-SGD, the config with layers it cannot train swapped for ones it can."""
    if config.training.privacy is None:
        return config, []
    from tailorml.train.privacy import swap_batch_norm

    return swap_batch_norm(config)


def reweigh_training(
    config: ModelConfig, rows: pd.DataFrame, train: Encoded, features: FeatureSet
) -> dict[str, Any] | None:
    """Set Kamiran–Calders weights on the training rows when the config asks.

    Returns what ``metrics.json`` records under ``fairness``: the method, the
    sensitive columns and every (group, label) cell with its rows and weight.
    """
    fairness = config.training.fairness
    if fairness is None:
        return None
    from tailorml.audit.reweigh import joint_groups, reweigh

    assert train.target is not None
    groups = joint_groups(rows, fairness.sensitive)
    weights, cells = reweigh(groups, train.target.long().numpy())
    names = features.target.labels
    for cell in cells:
        cell["label"] = names[cell["label"]]
    train.weights = torch.from_numpy(weights.astype(np.float32))
    return {"method": fairness.method, "sensitive": fairness.sensitive, "cells": cells}


def collect_metrics(
    run: Run,
    frames: dict[str, pd.DataFrame],
    encoded: dict[str, Encoded],
    history: list[dict[str, float]],
    trainer: Trainer,
    dropped: int,
    wall: float,
) -> dict[str, Any]:
    """metrics.json: evaluation per split plus training figures.

    A private run adds ``privacy``: the ε actually spent at δ, the target ε, the
    per-sample clip norm, the noise multiplier and the sampling rate.
    """
    cfg = run.config
    target = run.bundle.features.target
    train_seconds = sum(h["seconds"] for h in history)
    samples = len(encoded["train"]) * len(history)
    metrics: dict[str, Any] = {
        "task": target.task,
        "target": target.name,
        "labels": target.labels,
        "data": {
            "source": cfg.data.source,
            "rows": {name: len(frame) for name, frame in frames.items()},
            "dropped_rows": dropped,
        },
        "train": {
            "epochs": len(history),
            "best_epoch": trainer.state.best_epoch or len(history),
            "early_stopped": len(history) < cfg.training.epochs,
            "seconds": train_seconds,
            "wall_seconds": wall,
            "samples_per_s": samples / train_seconds if train_seconds else 0.0,
            "final_loss": history[-1]["train_loss"] if history else None,
            "processes": trainer.world.size,
            "device": trainer.device.type,
        },
    }
    if trainer.privacy is not None:
        metrics["privacy"] = trainer.privacy
    for split in ("validation", "test"):
        if split in frames and not (
            split == "validation" and cfg.data.split.validation_data == "test"
        ):
            metrics[split] = run.score_rows(frames[split], split)
    return metrics


def save_run(run_dir: Path, run: Run) -> None:
    """Write config, model bundle, metrics, history and report."""
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / "config.yaml", dump_config(run.config))
    save_bundle(run.bundle, run_dir / "model")
    atomic_write_json(run_dir / "metrics.json", run.metrics)
    atomic_write_text(run_dir / "history.csv", history_csv(run.history))
    write_report(run_dir)
    write_model_card(run_dir)


def history_csv(history: list[dict[str, float]]) -> str:
    columns: list[str] = []
    for row in history:
        columns += [k for k in row if k not in columns]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in history:
        writer.writerow({k: (int(v) if k == "epoch" else v) for k, v in row.items()})
    return buffer.getvalue()
