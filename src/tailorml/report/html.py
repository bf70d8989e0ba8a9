"""The HTML report of one run: a single self-contained file beside its metrics.

A run folder holds ``metrics.json`` (required), ``config.yaml`` and
``history.csv`` (both optional). :func:`write_report` turns them into
``report.html`` with inline SVG charts and inline CSS, so the file can be
mailed or archived and opens offline with nothing else.

``metrics.json`` keys read (each optional; missing parts are left out of the page):
    ``task``: ``"classification"`` or ``"regression"`` (else inferred).
    ``labels``: class names, in class-index order.
    ``run_name``, ``data_source``: override the folder name and ``data.source``.
    ``test``, ``validation``: the dicts :func:`tailorml.evaluate.evaluate` returns.
    ``train``: ``seconds``, ``samples_per_s``, ``epochs`` (run), ``early_stopped``,
    ``best_epoch`` and any other scalars, shown as they are.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from tailorml.errors import TailorError
from tailorml.io import atomic_write_text
from tailorml.report.charts import Series, confusion_chart, line_chart
from tailorml.report.render import render

REPORT_NAME = "report.html"
_SPLITS = ("validation", "test")
_METRIC_ORDER = {
    "classification": [
        "accuracy",
        "precision_macro",
        "recall_macro",
        "f1_macro",
        "roc_auc",
        "log_loss",
        "ece",
        "n",
    ],
    "regression": ["mae", "rmse", "r2", "n"],
}
_PER_CLASS_KEYS = ("precision", "recall", "f1", "support")
_NOT_SCALARS = {"per_class", "confusion_matrix", "ci95", "headline"}
_TRAIN_NAMES = {
    "seconds": "Training time (s)",
    "samples_per_s": "Throughput (samples/s)",
    "epochs": "Epochs run",
    "early_stopped": "Stopped early",
    "best_epoch": "Best epoch",
}
_TRAIN_FORMATS = {"seconds": ",.1f", "samples_per_s": ",.0f"}


def write_report(run_dir: Path) -> Path:
    """Write ``run_dir/report.html`` from the run's metrics, history and config.

    Args:
        run_dir: A run folder holding ``metrics.json`` and optionally
            ``config.yaml`` and ``history.csv``.

    Returns:
        The path of the written report.

    Raises:
        TailorError: The folder or its ``metrics.json`` is missing, or a file in
            it cannot be parsed.
    """
    run_dir = Path(run_dir)
    html = render_report(run_dir)
    target = run_dir / REPORT_NAME
    atomic_write_text(target, html)
    return target


def render_report(run_dir: Path) -> str:
    """Render the report of a run folder as an HTML string (see :func:`write_report`)."""
    metrics = _read_metrics(run_dir / "metrics.json")
    config, config_text = _read_config(run_dir / "config.yaml")
    history = _read_history(run_dir / "history.csv")
    context = _build_context(run_dir, metrics, config, config_text, history)
    return render("report.html.j2", context, {"fmt": format_value})


def format_value(value: Any, small: str = ".4f") -> str:
    """Format a metric for display: ``small`` format below 1,000 (4 decimals
    by default), thousands separators above, "—" for None."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 1000 else format(value, small)
    return str(value)


# ---------------------------------------------------------------- reading


def read_json_object(path: Path, missing: str) -> dict[str, Any]:
    """A JSON object from a run folder; ``missing`` explains an absent file."""
    if not path.is_file():
        raise TailorError(f"no {path.name} in {path.parent}; {missing}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise TailorError(f"{path} is not valid JSON: {err}") from err
    if not isinstance(data, dict):
        raise TailorError(f"{path} must hold a JSON object, found {type(data).__name__}")
    return data


def _read_metrics(path: Path) -> dict[str, Any]:
    return read_json_object(path, "a report needs a finished run folder")


def _read_config(path: Path) -> tuple[dict[str, Any], str | None]:
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


# ---------------------------------------------------------------- context


def _build_context(
    run_dir: Path,
    metrics: dict[str, Any],
    config: dict[str, Any],
    config_text: str | None,
    history: pd.DataFrame | None,
) -> dict[str, Any]:
    splits = {s: metrics[s] for s in _SPLITS if isinstance(metrics.get(s), dict)}
    task = _task(metrics, splits)
    labels = _labels(metrics, splits)
    data = config.get("data")
    source = metrics.get("data_source") or (data.get("source") if isinstance(data, dict) else None)
    main_split = "test" if "test" in splits else next(iter(splits), None)
    main = splits.get(main_split, {}) if main_split else {}
    return {
        "run_name": str(metrics.get("run_name") or run_dir.resolve().name),
        "task": task,
        "data_source": source,
        "headline": _headline(task, main_split, main),
        "curves": _learning_curves(history),
        "confusion": _confusion(main, labels) if task == "classification" else None,
        "main_split": main_split,
        "metric_splits": list(splits),
        "metric_rows": _metric_rows(task, splits),
        "per_class_rows": _per_class_rows(main, labels),
        "training_rows": _training_rows(metrics.get("train"), config, history),
        "config_text": config_text,
    }


def _task(metrics: dict[str, Any], splits: dict[str, dict[str, Any]]) -> str:
    if metrics.get("task") in _METRIC_ORDER:
        return str(metrics["task"])
    if any("accuracy" in s for s in splits.values()):
        return "classification"
    if any("mae" in s for s in splits.values()):
        return "regression"
    return "unknown"


def _labels(metrics: dict[str, Any], splits: dict[str, dict[str, Any]]) -> list[str]:
    if isinstance(metrics.get("labels"), list):
        return [str(label) for label in metrics["labels"]]
    for split in splits.values():
        if isinstance(split.get("per_class"), dict):
            return [str(label) for label in split["per_class"]]
    return []


def _headline(task: str, split: str | None, scores: dict[str, Any]) -> dict[str, Any] | None:
    name = scores.get("headline") or {"classification": "accuracy", "regression": "mae"}.get(task)
    if split is None or name is None or name not in scores:
        return None
    ci = scores.get("ci95")
    if not isinstance(ci, dict) or ci.get("metric", name) != name:
        ci = {}
    return {
        "metric": name,
        "split": split,
        "value": scores[name],
        "low": ci.get("low"),
        "high": ci.get("high"),
        "n": scores.get("n"),
    }


def _learning_curves(history: pd.DataFrame | None) -> list[dict[str, str]]:
    """One chart for the loss, one per other metric logged per epoch, one for lr."""
    if history is None:
        return []
    epochs = history["epoch"].tolist()
    names = ["loss"] + [n for n in _logged_metrics(history.columns) if n != "loss"]
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


def _logged_metrics(columns: pd.Index) -> list[str]:
    names: list[str] = []
    for column in map(str, columns):
        prefix, _, name = column.partition("_")
        if prefix in ("train", "val") and name and name not in names:
            names.append(name)
    return names


def _confusion(scores: dict[str, Any], labels: list[str]) -> str | None:
    matrix = scores.get("confusion_matrix")
    if not isinstance(matrix, list) or not matrix:
        return None
    names = labels if len(labels) == len(matrix) else [str(i) for i in range(len(matrix))]
    return confusion_chart("confusion", matrix, names)


def _metric_rows(task: str, splits: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of (metric, value per split): the task's metrics first, then any others."""
    names = list(_METRIC_ORDER.get(task, []))
    for scores in splits.values():
        names += [k for k, v in scores.items() if k not in _NOT_SCALARS and _is_scalar(v)]
    present = [n for n in dict.fromkeys(names) if any(n in s for s in splits.values())]
    rows = [{"name": n, "values": [s.get(n) for s in splits.values()]} for n in present]
    cis: list[dict[str, Any]] = [
        ci if isinstance(ci := s.get("ci95"), dict) else {} for s in splits.values()
    ]
    texts = [_ci_text(ci) for ci in cis]
    if any(texts):
        metric = next(ci.get("metric", "headline") for ci, t in zip(cis, texts, strict=True) if t)
        rows.append({"name": f"{metric} 95% CI", "values": texts})
    return rows


def _ci_text(ci: dict[str, Any]) -> str | None:
    if ci.get("low") is None or ci.get("high") is None:
        return None
    return f"{format_value(ci['low'])} – {format_value(ci['high'])}"


def _per_class_rows(scores: dict[str, Any], labels: list[str]) -> list[dict[str, Any]]:
    per_class = scores.get("per_class")
    if not isinstance(per_class, dict):
        return []
    order = [label for label in labels if label in per_class] or list(per_class)
    rows = []
    for label in order:
        entry = per_class[label] if isinstance(per_class[label], dict) else {}
        rows.append({"label": label, **{k: entry.get(k) for k in _PER_CLASS_KEYS}})
    return rows


def _training_rows(
    train: Any, config: dict[str, Any], history: pd.DataFrame | None
) -> list[tuple[str, Any]]:
    train = dict(train) if isinstance(train, dict) else {}
    if "epochs" not in train and history is not None:
        train["epochs"] = len(history)
    training = config.get("training")
    planned = training.get("epochs") if isinstance(training, dict) else None
    if "early_stopped" not in train and isinstance(planned, int) and "epochs" in train:
        train["early_stopped"] = bool(train["epochs"] < planned)
    for key, spec in _TRAIN_FORMATS.items():
        if isinstance(train.get(key), int | float) and not isinstance(train[key], bool):
            train[key] = format(train[key], spec)
    known = [(label, train[key]) for key, label in _TRAIN_NAMES.items() if key in train]
    others = [
        (key.replace("_", " ").capitalize(), value)
        for key, value in train.items()
        if key not in _TRAIN_NAMES and _is_scalar(value)
    ]
    return known + others


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, int | float | str | bool)


# ---------------------------------------------------------------- writing
