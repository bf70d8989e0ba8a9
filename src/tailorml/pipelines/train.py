"""``train``: config → data → features → model → training → evaluation → run."""

from __future__ import annotations

import csv
import io
import random
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from tailorml.config import ConfigLike, as_config, dump_config
from tailorml.errors import ConfigError
from tailorml.features import Encoded, FeatureSet
from tailorml.features.splits import read_splits
from tailorml.io import atomic_write_text
from tailorml.models import TailorModel
from tailorml.records.metrics import DataFacts, Metrics, TrainFigures
from tailorml.report import write_report
from tailorml.report.card import write_model_card
from tailorml.runs.bundle import Bundle, save_bundle
from tailorml.runs.run import Run
from tailorml.train import Trainer
from tailorml.train.weights import reweigh_training


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

    Returns:
        The trained run, with metrics on the validation and test splits.
    """
    cfg = as_config(config)
    if cfg.output.type == "text":
        raise ConfigError(
            f"output '{cfg.output.name}' is text, written by a generator: train it with "
            "tailorml.pipelines.train_generator (tailor train does so by itself)."
        )
    swapped: list[str] = []
    if cfg.training.privacy is not None:
        from tailorml.train.privacy import private_layers  # Opacus loads only for a private run

        cfg, swapped = private_layers(cfg)
    random.seed(cfg.training.seed)
    np.random.seed(cfg.training.seed)
    torch.manual_seed(cfg.training.seed)
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
        run.metrics.fairness = reweighing
    if swapped and run.metrics.privacy is not None:
        run.metrics.privacy.changes = swapped
    if run_dir is not None:
        save_run(run_dir, run)
    return run


def collect_metrics(
    run: Run, frames: dict[str, pd.DataFrame], encoded: dict[str, Encoded],
    history: list[dict[str, float]], trainer: Trainer, dropped: int, wall: float,
) -> Metrics:  # fmt: skip
    """metrics.json: evaluation per split plus training figures.

    A private run adds ``privacy``: the ε actually spent at δ, the target ε, the
    per-sample clip norm, the noise multiplier and the sampling rate.
    """
    cfg = run.config
    target = run.bundle.features.target
    train_seconds = sum(h["seconds"] for h in history)
    samples = len(encoded["train"]) * len(history)
    rows = {name: len(frame) for name, frame in frames.items()}
    metrics = Metrics(
        task=target.task,
        target=target.name,
        labels=target.labels,
        data=DataFacts(source=cfg.data.source, rows=rows, dropped_rows=dropped),
        train=TrainFigures(
            epochs=len(history), best_epoch=trainer.state.best_epoch or len(history),
            early_stopped=len(history) < cfg.training.epochs,
            seconds=train_seconds, wall_seconds=wall,
            samples_per_s=samples / train_seconds if train_seconds else 0.0,
            final_loss=history[-1]["train_loss"] if history else None,
            processes=trainer.world.size, device=trainer.device.type,
        ),
    )  # fmt: skip
    metrics.privacy = trainer.privacy
    if "validation" in frames and cfg.data.split.validation_data != "test":
        metrics.validation = run.score_rows(frames["validation"], "validation")
    if "test" in frames:
        metrics.test = run.score_rows(frames["test"], "test")
    return metrics


def save_run(run_dir: Path, run: Run) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / "config.yaml", dump_config(run.config))
    save_bundle(run.bundle, run_dir / "model")
    run.metrics.write(run_dir / "metrics.json")
    atomic_write_text(run_dir / "history.csv", history_csv(run.history))
    write_report(run_dir)
    write_model_card(run_dir)


def history_csv(history: list[dict[str, float]]) -> str:
    columns = list(dict.fromkeys(k for row in history for k in row))  # first-seen order
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in history:
        writer.writerow({k: (int(v) if k == "epoch" else v) for k, v in row.items()})
    return buffer.getvalue()
