"""Charts for the HTML report, rendered by matplotlib as inline SVG strings.

Figures are built with :class:`matplotlib.figure.Figure` rather than pyplot, so
no global backend or figure list is touched; ``savefig`` renders through the
SVG backend, headless. The SVG is scrubbed of its XML prologue and namespace
URIs (inline SVG in HTML5 needs neither), and its element ids are prefixed with
the chart name so several charts can share one page.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

CURVE_SIZE = (6.4, 3.6)
MATRIX_SIZE = (6.4, 5.6)
_MAX_ANNOTATED_CLASSES = 20  # beyond this, cell counts are too small to read
_MAX_TICK_LABELS = 50

Series = tuple[str, Sequence[float], Sequence[float]]
"""(legend name, x values, y values) of one line."""


def line_chart(
    name: str, title: str, ylabel: str, series: list[Series], *, log_y: bool = False
) -> str:
    """Draw one or more lines against the epoch.

    Args:
        name: Short identifier of the chart, used to keep its SVG ids unique.
        title: Title above the chart.
        ylabel: Label of the y axis.
        series: Lines to draw; NaN values leave gaps.
        log_y: Use a logarithmic y axis (for learning rates, say).

    Returns:
        The chart as an ``<svg>`` element.
    """
    fig = Figure(figsize=CURVE_SIZE, layout="constrained")
    ax = fig.add_subplot()
    for label, x, y in series:
        ax.plot(x, y, marker="o", markersize=3, label=label)
    ax.set_title(title)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(ylabel)
    if log_y:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    if len(series) > 1:
        ax.legend()
    return to_svg(fig, name)


def confusion_chart(name: str, matrix: list[list[int]], labels: list[str]) -> str:
    """Draw a confusion matrix as a heatmap with a count in each cell.

    Args:
        name: Short identifier of the chart, used to keep its SVG ids unique.
        matrix: K×K counts, rows are true classes, columns predicted ones.
        labels: The K class names.

    Returns:
        The chart as an ``<svg>`` element.
    """
    counts = np.asarray(matrix, dtype=np.int64)
    k = counts.shape[0]
    fig = Figure(figsize=MATRIX_SIZE, layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(counts, cmap="Blues", interpolation="nearest")
    fig.colorbar(image, ax=ax, shrink=0.8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("Confusion matrix")
    if k <= _MAX_TICK_LABELS:
        ax.set_xticks(
            range(k), labels, rotation=45 if k > 4 else 0, ha="right" if k > 4 else "center"
        )
        ax.set_yticks(range(k), labels)
    if k <= _MAX_ANNOTATED_CLASSES:
        _annotate_counts(ax, counts)
    return to_svg(fig, name)


def _annotate_counts(ax: matplotlib.axes.Axes, counts: np.ndarray) -> None:
    threshold = counts.max() / 2.0 if counts.size else 0.0
    size = 10 if counts.shape[0] <= 10 else 7
    for (row, col), value in np.ndenumerate(counts):
        color = "white" if value > threshold else "black"
        ax.text(col, row, str(value), ha="center", va="center", color=color, fontsize=size)


def to_svg(fig: Figure, name: str) -> str:
    """Render a figure as a self-contained ``<svg>`` element for inline HTML.

    Args:
        fig: The figure to render.
        name: Prefix for the SVG's element ids; unique per page.

    Returns:
        SVG markup with no XML prologue, no metadata and no namespace URIs.
    """
    name = re.sub(r"[^A-Za-z0-9_-]", "-", name)
    buffer = io.StringIO()
    # A fixed hash salt makes the ids, and so the report, the same on every run.
    with matplotlib.rc_context({"svg.hashsalt": name, "svg.fonttype": "none"}):
        fig.savefig(
            buffer,
            format="svg",
            metadata={"Date": None, "Creator": None, "Format": None, "Type": None},
        )
    return _scrub_svg(buffer.getvalue(), name)


def _scrub_svg(svg: str, prefix: str) -> str:
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.DOTALL)
    svg = re.sub(r'\s+xmlns(?::\w+)?="[^"]*"', "", svg)
    # matplotlib escapes quotes in text, so these patterns only meet real ids.
    svg = re.sub(r'\bid="([^"]+)"', rf'id="{prefix}-\1"', svg)
    svg = re.sub(r'href="#([^"]+)"', rf'href="#{prefix}-\1"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", rf"url(#{prefix}-\1)", svg)
    return svg.strip()
