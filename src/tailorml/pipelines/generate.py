"""``train`` for a text output: config → pairs → generator → scores → run folder."""

from __future__ import annotations

import csv
import io
import random
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from tailorml.config import ConfigLike, as_config, dump_config
from tailorml.features.splits import read_splits
from tailorml.io import atomic_write_text
from tailorml.models.generation import Pairs, build_generator
from tailorml.models.generation.base import FitFigures, check_pairs
from tailorml.pipelines.train import history_csv
from tailorml.records.metrics import DataFacts, GenerationFacts, Metrics, TrainFigures
from tailorml.runs.generation import GenerationRun, save_generator


def train_generator(
    config: ConfigLike, output: str | Path | None = None, *, quiet: bool = False
) -> GenerationRun:
    """Train the config's generator on (input, target) pairs and save the run.

    The run folder holds ``config.yaml``, ``model/`` (the generator bundle),
    ``metrics.json`` (chrF, BLEU, exact match, perplexity per split; latency;
    texts cut to the limits), ``history.csv`` and ``samples.csv`` (test inputs,
    references and generated texts).

    Raises:
        DataError: empty input or target texts, or (``overlong: refuse``) texts
            over the limits; the message names the rows.
    """
    cfg = as_config(config)
    random.seed(cfg.training.seed)
    np.random.seed(cfg.training.seed)
    torch.manual_seed(cfg.training.seed)
    frames, dropped = read_splits(cfg)
    run = GenerationRun(build_generator(cfg), Path(output) if output is not None else None)
    pairs = {name: run.pairs(frame, name) for name, frame in frames.items()}
    for name, split in pairs.items():
        check_pairs(split, "training" if name == "train" else name)
    started = time.perf_counter()
    figures = run.generator.fit(pairs["train"], pairs.get("validation"), quiet)
    run.history = figures.history
    run.metrics = collect(run, frames, figures, time.perf_counter() - started, dropped)
    if run.path is not None:
        save_generation_run(run, pairs.get("test"))
    return run


def collect(
    run: GenerationRun, frames: dict[str, pd.DataFrame], figures: FitFigures, wall: float,
    dropped: int,
) -> Metrics:  # fmt: skip
    """metrics.json of a generator: scores per split, training and latency."""
    cfg = run.config
    rows = {name: len(frame) for name, frame in frames.items()}
    losses = [h["train_loss"] for h in figures.history if "train_loss" in h]
    watched = [h.get("validation_loss", h.get("train_loss", 0.0)) for h in figures.history]
    metrics = Metrics(
        task="generation", target=cfg.output.name,
        data=DataFacts(source=cfg.data.source, rows=rows, dropped_rows=dropped),
        train=TrainFigures(
            epochs=figures.epochs, seconds=figures.seconds, wall_seconds=wall,
            best_epoch=int(np.argmin(watched)) + 1 if watched else None,
            samples_per_s=len(frames["train"]) * figures.epochs / figures.seconds
            if figures.seconds else None,
            final_loss=losses[-1] if losses else None, processes=1, device="cpu",
        ),
        generation=GenerationFacts(
            generator=run.generator.name, parameters=run.generator.size(),
            truncated_sources=figures.truncated_sources,
            truncated_targets=figures.truncated_targets,
        ),
    )  # fmt: skip
    if "validation" in frames:
        metrics.validation = run.score_rows(frames["validation"], "validation")
    if "test" in frames:
        metrics.test = run.score_rows(frames["test"], "test")
        sources = run.pairs(frames["test"], "test").sources
        assert metrics.generation is not None
        metrics.generation.latency = run.latency(sources)
    return metrics


def save_generation_run(run: GenerationRun, test: Pairs | None) -> None:
    assert run.path is not None
    run.path.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run.path / "config.yaml", dump_config(run.config))
    save_generator(run.generator, run.path / "model")
    run.metrics.write(run.path / "metrics.json")
    if run.history:  # the baselines train no epochs
        atomic_write_text(run.path / "history.csv", history_csv(run.history))
    if test is not None:
        atomic_write_text(run.path / "samples.csv", samples_csv(run, test))


def samples_csv(run: GenerationRun, test: Pairs, limit: int = 200) -> str:
    """The first ``limit`` test pairs beside what the generator wrote."""
    chosen = Pairs(test.sources[:limit], test.targets[:limit])
    written = run.generate(chosen.sources)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["input", "reference", "generated"])
    for source, target, out in zip(chosen.sources, chosen.targets, written, strict=True):
        writer.writerow([source, target, out.text])
    return buffer.getvalue()
