"""The explanations page: why the model decided as it did, row by row.

One self-contained HTML file: attribution heatmaps over images (inline SVG
drawn with matplotlib), tokens highlighted by their attribution, bars for
table features, and the permutation importance of every input. Green favours
the decided class, pink speaks against it.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from tailorml.io import atomic_write_json, atomic_write_text
from tailorml.report.charts import to_svg
from tailorml.report.html import format_value

MAX_ROWS = 24  # rows drawn on the page; explanations.json holds every row
FOR, AGAINST = (39, 140, 60), (197, 27, 125)  # PiYG's green and pink
STYLE = (
    "body{font-family:sans-serif;max-width:70rem;margin:2rem auto;color:#222}"
    "section{border-top:1px solid #ddd;margin-top:1.5rem}"
    "table{border-collapse:collapse;margin:.5rem 0}td,th{padding:.15rem .5rem;text-align:left}"
    ".bar{height:.8rem;display:inline-block}.tokens{line-height:1.9}"
    ".tokens span{padding:.1rem .15rem;border-radius:.2rem}.meta{color:#555}"
)


def write_explanations(
    run_dir: Path, explanations: list[dict[str, Any]], importance: dict[str, Any] | None
) -> Path:
    """Write ``explanations.json`` and the self-contained ``explanations.html``.

    Args:
        run_dir: the run folder.
        explanations: what :func:`tailorml.audit.explain.explain_rows` returns.
        importance: what :func:`tailorml.audit.explain.permutation_importance`
            returns, or None.

    Returns:
        The HTML page's path.
    """
    data = {"rows": explanations, "permutation_importance": importance}
    atomic_write_json(run_dir / "explanations.json", data)
    page = run_dir / "explanations.html"
    atomic_write_text(page, render_explanations(explanations, importance))
    return page


def render_explanations(
    explanations: list[dict[str, Any]], importance: dict[str, Any] | None
) -> str:
    """The page as one HTML string."""
    shown = explanations[:MAX_ROWS]
    parts = [
        "<h1>Explanations</h1>",
        f"<p>{len(explanations):,} rows explained"
        + (f"; the first {len(shown)} are drawn here" if len(shown) < len(explanations) else "")
        + ". Green favours the decided class, pink speaks against it.</p>",
    ]
    if importance:
        parts += [
            "<h2>Permutation importance</h2>",
            "<p>Drop in the headline metric (accuracy; −MAE for regression) when one "
            "input column is shuffled, mean ± std over the repeats.</p>",
            importance_chart(importance),
        ]
    parts += [row_section(explanation) for explanation in shown]
    head = f"<meta charset='utf-8'><title>explanations</title><style>{STYLE}</style>"
    body = "\n".join(parts)
    return f"<!doctype html><html><head>{head}</head><body>{body}</body></html>\n"


def row_section(explanation: dict[str, Any]) -> str:
    """One row: its decision, then each feature's attribution."""
    row = int(explanation["row"])
    prediction = html.escape(format_value(explanation["prediction"]))
    delta = explanation.get("convergence_delta")
    meta = (
        f"output {format_value(explanation['output'])}, baseline "
        f"{format_value(explanation['baseline_output'])}, "
        f"{html.escape(str(explanation['method']))}"
        + (f", convergence delta {delta:.2g}" if delta is not None else " (exact)")
    )
    parts = [f"<section><h2>Row {row}: {prediction}</h2><p class='meta'>{meta}</p>"]
    table = {}
    for name, feature in explanation["features"].items():
        if feature["type"] == "image":
            parts.append(image_heatmap(f"row{row}-{name}", name, feature))
        elif feature["type"] == "text":
            parts.append(highlighted_tokens(name, feature))
        else:
            table[name] = feature
    if table:
        parts.append(feature_bars(table))
    return "\n".join(parts) + "</section>"


def image_heatmap(chart: str, name: str, feature: dict[str, Any]) -> str:
    """The input image, and the attribution map with the image's outline over it."""
    image = np.asarray(feature["image"], dtype=np.float64)  # (H, W)
    scores = np.asarray(feature["map"], dtype=np.float64)  # (H, W)
    # a few pixels often dominate; the 99th percentile keeps the rest visible
    limit = float(np.quantile(np.abs(scores), 0.99)) or float(np.abs(scores).max()) or 1.0
    fig = Figure(figsize=(5.0, 2.4), layout="constrained")
    left, right = fig.subplots(1, 2)
    left.imshow(image, cmap="gray", interpolation="nearest")
    left.set_title(name, fontsize=9)
    heat = right.imshow(scores, cmap="PiYG", vmin=-limit, vmax=limit, interpolation="nearest")
    middle = (image.min() + image.max()) / 2
    if image.max() > image.min():
        right.contour(image, levels=[middle], colors="#333", linewidths=0.6)
    right.set_title("attribution", fontsize=9)
    fig.colorbar(heat, ax=right, shrink=0.8)
    for ax in (left, right):
        ax.set_axis_off()
    return to_svg(fig, chart)


def highlighted_tokens(name: str, feature: dict[str, Any]) -> str:
    """Tokens with a background whose strength follows their attribution."""
    scores = [float(s) for s in feature["scores"]]
    limit = max((abs(s) for s in scores), default=0.0) or 1.0
    spans = []
    for token, score in zip(feature["tokens"], scores, strict=True):
        red, green, blue = FOR if score >= 0 else AGAINST
        alpha = 0.75 * abs(score) / limit
        spans.append(
            f"<span style='background:rgba({red},{green},{blue},{alpha:.2f})' "
            f"title='{score:.3g}'>{html.escape(str(token))}</span>"
        )
    return f"<p><b>{html.escape(name)}</b></p><p class='tokens'>{' '.join(spans)}</p>"


def feature_bars(features: dict[str, dict[str, Any]]) -> str:
    """Table features as bars of their scores, largest effect first."""
    ordered = sorted(features.items(), key=lambda item: -abs(float(item[1]["score"])))
    limit = max(abs(float(f["score"])) for _, f in ordered) or 1.0
    rows = ["<tr><th>feature</th><th>value</th><th>attribution</th><th></th></tr>"]
    for name, feature in ordered:
        score = float(feature["score"])
        red, green, blue = FOR if score >= 0 else AGAINST
        width = 12 * abs(score) / limit
        bar = (
            f"<span class='bar' style='width:{width:.2f}rem;background:rgb({red},{green},{blue})'>"
        )
        value = html.escape(format_value(feature.get("value")))
        rows.append(
            f"<tr><td>{html.escape(name)}</td><td>{value}</td><td>{bar}</span></td>"
            f"<td>{score:+.3g}</td></tr>"
        )
    return "<table>" + "".join(rows) + "</table>"


def importance_chart(importance: dict[str, Any]) -> str:
    """Horizontal bars of the mean drop per feature with ± std whiskers."""
    ordered = sorted(importance.items(), key=lambda item: float(item[1]["mean"]))
    names = [name for name, _ in ordered]
    means = [float(v["mean"]) for _, v in ordered]
    stds = [float(v["std"]) for _, v in ordered]
    fig = Figure(figsize=(6.4, 1.0 + 0.28 * len(names)), layout="constrained")
    ax = fig.add_subplot()
    colours = ["#278c3c" if m >= 0 else "#c51b7d" for m in means]
    ax.barh(range(len(names)), means, xerr=stds, color=colours, capsize=2)
    ax.set_yticks(range(len(names)), names)
    ax.axvline(0, color="#444", linewidth=0.8)
    ax.set_xlabel("drop in the headline metric")
    ax.grid(axis="x", alpha=0.3)
    return to_svg(fig, "importance")
