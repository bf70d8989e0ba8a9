"""The explanations page: why the model decided as it did, row by row.

One self-contained HTML file: attribution heatmaps over images and over
audio clips' time × frequency (inline SVG drawn with matplotlib), tokens
highlighted by their attribution, bars for table features, and the
permutation importance of every input. Green favours
the decided class, pink speaks against it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from tailorml.io import atomic_write_text
from tailorml.records.explanations import (
    AudioAttribution,
    ExplanationsRecord,
    ImageAttribution,
    Importance,
    RowExplanation,
    TextAttribution,
    ValueAttribution,
)
from tailorml.report.charts import to_svg
from tailorml.report.render import render

MAX_ROWS = 24  # rows drawn on the page; explanations.json holds every row
FOR, AGAINST = (39, 140, 60), (197, 27, 125)  # PiYG's green and pink


@dataclass
class Token:
    """A token shaded by its attribution."""

    text: str
    score: float
    colour: str


@dataclass
class Bar:
    """A table feature's attribution as a bar ``width`` rem long."""

    name: str
    feature: ValueAttribution
    colour: str
    width: float


@dataclass
class RowView:
    """One explained row as the page draws it, features in input order."""

    row: RowExplanation
    drawn: list[tuple[str, str | list[Token]]] = field(default_factory=list)  # svg, tokens
    bars: list[Bar] = field(default_factory=list)


def write_explanations(run_dir: Path, record: ExplanationsRecord) -> Path:
    """Write ``explanations.json`` and the self-contained ``explanations.html``; return the page."""
    record.write(run_dir / "explanations.json")
    importance = record.permutation_importance
    context = {
        "total": len(record.rows),
        "views": [row_view(row) for row in record.rows[:MAX_ROWS]],
        "importance": importance_chart(importance) if importance else None,
    }
    page = run_dir / "explanations.html"
    atomic_write_text(page, render("explanations.html.j2", context))
    return page


def row_view(row: RowExplanation) -> RowView:
    """One row: heatmaps and highlighted tokens in feature order, then the bars."""
    view, table = RowView(row), {}
    for name, feature in row.features.items():
        if isinstance(feature, ImageAttribution):
            view.drawn.append((name, image_heatmap(f"row{row.row}-{name}", name, feature)))
        elif isinstance(feature, AudioAttribution):
            view.drawn.append((name, audio_heatmap(f"row{row.row}-{name}", name, feature)))
        elif isinstance(feature, TextAttribution):
            view.drawn.append((name, highlighted_tokens(feature)))
        else:
            table[name] = feature
    view.bars = feature_bars(table)
    return view


def colour(score: float, alpha: float | None = None) -> str:
    """Green for a score favouring the decision, pink against; ``alpha`` fades it."""
    rgb = ",".join(map(str, FOR if score >= 0 else AGAINST))
    return f"rgb({rgb})" if alpha is None else f"rgba({rgb},{alpha:.2f})"


def image_heatmap(chart: str, name: str, feature: ImageAttribution) -> str:
    """The input image, and the attribution map with the image's outline over it."""
    image = np.asarray(feature.image, dtype=np.float64)  # (H, W)
    scores = np.asarray(feature.map, dtype=np.float64)  # (H, W)
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


def audio_heatmap(chart: str, name: str, feature: AudioAttribution) -> str:
    """The spectrogram over the attribution map, time (seconds) across, bands up;
    a model without a time axis (a linear one on clip statistics): bars per band."""
    band = "mel band" if feature.band_kind == "mel" else "MFCC coefficient"
    if feature.map is None or feature.frames is None:
        scores = np.asarray(feature.bands, dtype=np.float64)  # (F,)
        fig = Figure(figsize=(6.4, 1.8), layout="constrained")
        ax = fig.add_subplot()
        colours = ["#278c3c" if v >= 0 else "#c51b7d" for v in scores]
        ax.bar(range(len(scores)), scores, color=colours)
        ax.axhline(0, color="#444", linewidth=0.8)
        ax.set_title(f"{name}: attribution per {band}, over the whole clip", fontsize=9)
        ax.set_xlabel(band)
        return to_svg(fig, chart)
    frames = np.asarray(feature.frames, dtype=np.float64).T  # (F, T): bands up
    scores = np.asarray(feature.map, dtype=np.float64).T  # (F, T)
    limit = float(np.quantile(np.abs(scores), 0.99)) or float(np.abs(scores).max()) or 1.0
    extent = (0.0, scores.shape[1] * feature.step_seconds, -0.5, scores.shape[0] - 0.5)
    fig = Figure(figsize=(6.4, 3.6), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True)
    shown = top.imshow(frames, cmap="magma", origin="lower", aspect="auto", extent=extent,
                       interpolation="nearest")  # fmt: skip
    shows = "log-mel spectrogram" if feature.band_kind == "mel" else "MFCCs"
    top.set_title(f"{name}: {shows}", fontsize=9)
    fig.colorbar(shown, ax=top, shrink=0.8)
    heat = bottom.imshow(scores, cmap="PiYG", vmin=-limit, vmax=limit, origin="lower",
                         aspect="auto", extent=extent, interpolation="nearest")  # fmt: skip
    bottom.set_title("attribution", fontsize=9)
    bottom.set_xlabel("time (s)")
    fig.colorbar(heat, ax=bottom, shrink=0.8)
    for ax in (top, bottom):
        ax.set_ylabel(band, fontsize=8)
    return to_svg(fig, chart)


def highlighted_tokens(feature: TextAttribution) -> list[Token]:
    """Tokens with a background whose strength follows their attribution."""
    limit = max((abs(s) for s in feature.scores), default=0.0) or 1.0
    return [
        Token(token, score, colour(score, 0.75 * abs(score) / limit))
        for token, score in zip(feature.tokens, feature.scores, strict=True)
    ]


def feature_bars(features: dict[str, ValueAttribution]) -> list[Bar]:
    """Table features as bars of their scores, largest effect first."""
    ordered = sorted(features.items(), key=lambda item: -abs(item[1].score))
    limit = max((abs(f.score) for _, f in ordered), default=0.0) or 1.0
    return [Bar(name, f, colour(f.score), 12 * abs(f.score) / limit) for name, f in ordered]


def importance_chart(importance: dict[str, Importance]) -> str:
    """Horizontal bars of the mean drop per feature with ± std whiskers."""
    names = sorted(importance, key=lambda name: importance[name].mean)
    means, stds = [importance[n].mean for n in names], [importance[n].std for n in names]
    fig = Figure(figsize=(6.4, 1.0 + 0.28 * len(names)), layout="constrained")
    ax = fig.add_subplot()
    colours = ["#278c3c" if m >= 0 else "#c51b7d" for m in means]
    ax.barh(range(len(names)), means, xerr=stds, color=colours, capsize=2)
    ax.set_yticks(range(len(names)), names)
    ax.axvline(0, color="#444", linewidth=0.8)
    ax.set_xlabel("drop in the headline metric")
    ax.grid(axis="x", alpha=0.3)
    return to_svg(fig, "importance")
