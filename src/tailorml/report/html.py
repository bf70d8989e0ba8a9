"""The HTML report of one run: a single self-contained file beside its metrics.

A run folder holds ``metrics.json`` (a :class:`~tailorml.records.metrics.Metrics`
record, required), ``config.yaml`` and ``history.csv`` (both optional).
:func:`write_report` turns them into ``report.html`` with inline SVG charts and
inline CSS, so the file can be mailed or archived and opens offline with
nothing else. Parts the record lacks are left out of the page.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import pandas as pd
import yaml

from tailorml.errors import TailorError
from tailorml.evaluate.metrics import HEADLINE
from tailorml.io import atomic_write_text
from tailorml.records.metrics import Metrics, Scores, TrainFigures
from tailorml.report.charts import Series, confusion_chart, line_chart
from tailorml.report.render import format_value, render

REPORT_NAME = "report.html"
__all__ = ["REPORT_NAME", "format_value", "render_report", "write_report"]
METRIC_ORDER = {  # the task's metrics in the order every page lists them
    "classification": ["accuracy", "precision_macro", "recall_macro", "f1_macro", "roc_auc",
                       "log_loss", "ece", "n"],
    "regression": ["mae", "rmse", "r2", "n"],
}  # fmt: skip
_TRAIN_NAMES = {
    "seconds": "Training time (s)",
    "samples_per_s": "Throughput (samples/s)",
    "epochs": "Epochs run",
    "early_stopped": "Stopped early",
    "best_epoch": "Best epoch",
}
_TRAIN_FORMATS = {"seconds": ",.1f", "samples_per_s": ",.0f"}


class Headline(NamedTuple):
    """The main split's headline metric, its 95% interval and the rows scored."""

    metric: str
    value: float | None
    low: float | None
    high: float | None
    n: int | None


def write_report(run_dir: Path) -> Path:
    """Write ``run_dir/report.html`` from the run's metrics, history and config.

    Args:
        run_dir: A run folder holding ``metrics.json`` and optionally
            ``config.yaml`` and ``history.csv``.

    Raises:
        TailorError: The folder or its ``metrics.json`` is missing, or a file in
            it cannot be parsed.
    """
    target = Path(run_dir) / REPORT_NAME
    atomic_write_text(target, render_report(Path(run_dir)))
    return target


def render_report(run_dir: Path) -> str:
    """Render the report of a run folder as an HTML string (see :func:`write_report`)."""
    path = run_dir / "metrics.json"
    if not path.is_file():
        raise TailorError(f"no {path.name} in {run_dir}; a report needs a finished run folder")
    metrics = Metrics.read(path)
    config, config_text = _read_config(run_dir / "config.yaml")
    history = _read_history(run_dir / "history.csv")
    splits = metrics.splits
    task = _task(metrics, splits)
    labels = metrics.labels or next((list(s.per_class) for s in splits.values() if s.per_class), [])
    data = config.get("data")
    source = metrics.data_source or (data.get("source") if isinstance(data, dict) else None)
    main_split = "test" if "test" in splits else next(iter(splits), None)
    main = splits[main_split] if main_split else Scores()
    training = config.get("training")
    planned = training.get("epochs") if isinstance(training, dict) else None
    per_class = main.per_class or {}
    order = [label for label in labels if label in per_class] or list(per_class)
    context = {
        "run_name": metrics.run_name or run_dir.resolve().name,
        "task": task,
        "data_source": source,
        "headline": _headline(task, main),
        "curves": _learning_curves(history),
        "confusion": _confusion(main, labels) if task == "classification" else None,
        "main_split": main_split,
        "metric_splits": list(splits),
        "metric_rows": _metric_rows(task, splits),
        "per_class_rows": [(label, per_class[label]) for label in order],
        "training_rows": _training_rows(metrics.train, planned, history),
        "config_text": config_text,
    }
    return render("report.html.j2", context)


def _read_config(path: Path) -> tuple[dict[str, object], str | None]:
    if not path.is_file():
        return {}, None
    text = path.read_text(encoding="utf-8")
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise TailorError(f"{path} is not valid YAML: {err}") from err
    return (config if isinstance(config, dict) else {}), text


def _read_history(path: Path) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    try:
        history = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        return None
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise TailorError(f"{path} is not a readable CSV file: {err}") from err
    if history.empty:
        return None
    history = history.apply(pd.to_numeric, errors="coerce")
    if "epoch" not in history:
        history.insert(0, "epoch", range(1, len(history) + 1))
    return history


def _task(metrics: Metrics, splits: dict[str, Scores]) -> str:
    if metrics.task in METRIC_ORDER:
        return metrics.task
    for task, headline in HEADLINE.items():
        if any(headline in s.figures for s in splits.values()):
            return task
    return "unknown"


def _headline(task: str, scores: Scores) -> Headline | None:
    name = scores.headline or HEADLINE.get(task)
    if name is None or name not in scores.figures:
        return None
    ci = scores.ci95 if scores.ci95 and scores.ci95.metric == name else None
    low, high = (ci.low, ci.high) if ci else (None, None)
    return Headline(name, scores[name], low, high, scores.n)


def _learning_curves(history: pd.DataFrame | None) -> list[dict[str, str]]:
    """One chart for the loss, one per other metric logged per epoch, one for lr."""
    if history is None:
        return []
    epochs = history["epoch"].tolist()
    parts = [str(column).partition("_") for column in history.columns]
    logged = [name for prefix, _, name in parts if prefix in ("train", "val") and name]
    names = list(dict.fromkeys(["loss", *logged]))
    charts = []
    for name in names:
        series: list[Series] = [
            (split, epochs, history[f"{prefix}_{name}"].tolist())
            for prefix, split in (("train", "train"), ("val", "validation"))
            if f"{prefix}_{name}" in history
        ]
        if series:
            title = "Loss" if name == "loss" else name.replace("_", " ").capitalize()
            charts.append({"title": title, "svg": line_chart(f"curve-{name}", title, name, series)})
    lr = history.get("lr")
    if lr is not None and lr.nunique() > 1:
        lr_series: list[Series] = [("lr", epochs, lr.tolist())]
        svg = line_chart("curve-lr", "Learning rate", "lr", lr_series, log_y=bool((lr > 0).all()))
        charts.append({"title": "Learning rate", "svg": svg})
    return charts


def _confusion(scores: Scores, labels: list[str]) -> str | None:
    matrix = scores.confusion_matrix
    if not matrix:
        return None
    names = labels if len(labels) == len(matrix) else [str(i) for i in range(len(matrix))]
    return confusion_chart("confusion", matrix, names)


def _metric_rows(task: str, splits: dict[str, Scores]) -> list[tuple[str, list[object]]]:
    """Rows of (metric, value per split): the task's metrics first, then any others."""
    values = [s.figures | ({"n": s.n} if s.n is not None else {}) for s in splits.values()]
    names = dict.fromkeys([*METRIC_ORDER.get(task, []), *(k for v in values for k in v)])
    rows: list[tuple[str, list[object]]] = [
        (n, [v.get(n) for v in values]) for n in names if any(n in v for v in values)
    ]
    cis = [s.ci95 for s in splits.values()]
    texts: list[object] = [
        f"{format_value(ci.low)} – {format_value(ci.high)}"
        if ci is not None and ci.low is not None and ci.high is not None
        else None
        for ci in cis
    ]
    metric = next((ci.metric for ci, text in zip(cis, texts, strict=True) if ci and text), None)
    if metric is not None:
        rows.append((f"{metric} 95% CI", texts))
    return rows


def _training_rows(
    train: TrainFigures | None, planned: object, history: pd.DataFrame | None
) -> list[tuple[str, object]]:
    """The training figures the run recorded (epochs and early stopping, if it did
    not, from its history and config)."""
    figures = train.model_dump(exclude_unset=True) if train is not None else {}
    if "epochs" not in figures and history is not None:
        figures["epochs"] = len(history)
    if "early_stopped" not in figures and isinstance(planned, int) and "epochs" in figures:
        figures["early_stopped"] = bool(figures["epochs"] < planned)
    for key, spec in _TRAIN_FORMATS.items():
        if figures.get(key) is not None:
            figures[key] = format(figures[key], spec)
    known = [(label, figures[key]) for key, label in _TRAIN_NAMES.items() if key in figures]
    others = [(key.replace("_", " ").capitalize(), value)
              for key, value in figures.items() if key not in _TRAIN_NAMES]  # fmt: skip
    return known + others
