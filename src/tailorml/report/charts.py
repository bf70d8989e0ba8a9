"""Charts for the HTML report, rendered by matplotlib as inline SVG strings.

Figures are built with :class:`matplotlib.figure.Figure` rather than pyplot, so
no global backend or figure list is touched; ``savefig`` renders through the
SVG backend, headless. The SVG is scrubbed of its XML prologue and namespace
URIs (inline SVG in HTML5 needs neither), and its element ids are prefixed with
the chart name so several charts can share one page.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from tailorml.records.audit import AttributeAudit
from tailorml.records.match import AttributeFairness

CURVE_SIZE = (6.4, 3.6)
MATRIX_SIZE = (6.4, 5.6)
_MAX_ANNOTATED_CLASSES = 20  # beyond this, cell counts are too small to read
_MAX_TICK_LABELS = 50
_LOG_SPREAD = 20.0  # latency ratio beyond which the Pareto plot's x axis turns logarithmic

Series = tuple[str, Sequence[float], Sequence[float]]
"""(legend name, x values, y values) of one line."""
Fairness = Mapping[str, AttributeAudit | AttributeFairness]
"""Per sensitive attribute, its figures group by group: an audit's or a match's."""


class ParetoPoint(NamedTuple):
    """One candidate on the Pareto plot."""

    name: str
    latency: float
    quality: float
    error: tuple[float, float]  # how far the 95% CI reaches below and above
    feasible: bool


def line_chart(
    name: str, title: str, ylabel: str, series: list[Series], *, log_y: bool = False
) -> str:
    """Draw one or more lines against the epoch, as an ``<svg>`` element.

    Args:
        name: Short identifier of the chart, used to keep its SVG ids unique.
        series: Lines to draw; NaN values leave gaps.
        log_y: Use a logarithmic y axis (for learning rates, say).
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
    """An ``<svg>`` heatmap of a confusion matrix with a count in each cell.

    Args:
        name: Short identifier of the chart, used to keep its SVG ids unique.
        matrix: K×K counts, rows are true classes, columns predicted ones.
        labels: The K class names.
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
        threshold = counts.max() / 2.0 if counts.size else 0.0
        size = 10 if k <= 10 else 7
        for (row, col), value in np.ndenumerate(counts):
            color = "white" if value > threshold else "black"
            ax.text(col, row, str(value), ha="center", va="center", color=color, fontsize=size)
    return to_svg(fig, name)


def to_svg(fig: Figure, name: str) -> str:
    """Render a figure as a self-contained ``<svg>`` element for inline HTML.

    Args:
        name: Prefix for the SVG's element ids; unique per page.

    Returns:
        SVG markup with no XML prologue, no metadata and no namespace URIs.
    """
    name = re.sub(r"[^A-Za-z0-9_-]", "-", name)
    buffer = io.StringIO()
    # A fixed hash salt makes the ids, and so the report, the same on every run.
    with matplotlib.rc_context({"svg.hashsalt": name, "svg.fonttype": "none"}):
        metadata = dict.fromkeys(["Date", "Creator", "Format", "Type"])  # None leaves each out
        fig.savefig(buffer, format="svg", metadata=metadata)
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.DOTALL)
    svg = re.sub(r'\s+xmlns(?::\w+)?="[^"]*"', "", svg)
    # matplotlib escapes quotes in text, so these patterns only meet real ids.
    svg = re.sub(r'\bid="([^"]+)"', rf'id="{name}-\1"', svg)
    svg = re.sub(r'href="#([^"]+)"', rf'href="#{name}-\1"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", rf"url(#{name}-\1)", svg)
    return svg.strip()


def plain(text: str) -> str:
    """Text for a matplotlib label: ``$`` would otherwise switch on its math parser."""
    return text.replace("$", r"\$")


def pareto_chart(
    points: list[ParetoPoint], pareto: list[str], recommended: str | None, ylabel: str
) -> str | None:
    """Quality against p95 latency, one point per candidate, Pareto points labelled."""
    if not points:
        return None
    fig = Figure(figsize=CURVE_SIZE, layout="constrained")
    ax = fig.add_subplot()
    for on_front, feasible in ((True, True), (True, False), (False, True), (False, False)):
        group = [p for p in points if (p.name in pareto) == on_front and p.feasible == feasible]
        if group:
            label = ("Pareto, " if on_front else "") + ("feasible" if feasible else "infeasible")
            color = "C0" if on_front else "#9aa5b1"
            xs, ys = [p.latency for p in group], [p.quality for p in group]
            errors = np.array([p.error for p in group]).T  # (2, N): below, above
            if errors.any():
                ax.errorbar(xs, ys, yerr=errors, fmt="none", ecolor=color, alpha=0.5, capsize=2)
            marker = "o" if feasible else "X"
            ax.scatter(xs, ys, c=color, marker=marker, s=48, label=label, zorder=3)
    for point in points:
        if point.name in pareto or point.name == recommended:
            text = point.name + (" (recommended)" if point.name == recommended else "")
            xy = (point.latency, point.quality)
            ax.annotate(plain(text), xy, xytext=(5, 5), textcoords="offset points")
    latencies = [p.latency for p in points]
    if min(latencies) > 0 and max(latencies) / min(latencies) >= _LOG_SPREAD:
        ax.set_xscale("log")
    ax.margins(x=0.2, y=0.1)  # room for the labels right of the points
    ax.set_xlabel("p95 latency (ms)")
    ax.set_ylabel(plain(ylabel))
    ax.set_title("Quality against latency")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return to_svg(fig, "pareto")


def selection_rate_chart(reports: Mapping[str, Fairness]) -> str | None:
    """Grouped bars of selection rate per group, one panel per attribute.

    Args:
        reports: per series (validation and test, or before and after mitigation),
            each sensitive attribute's figures by group.
    """
    splits = {
        split: rates for split, fairness in reports.items() if (rates := _selection_rates(fairness))
    }
    attributes = list(dict.fromkeys(a for rates in splits.values() for a in rates))
    if not attributes:
        return None
    width, height = CURVE_SIZE
    fig = Figure(figsize=(max(width, 3.4 * len(attributes)), height), layout="constrained")
    axes = fig.subplots(1, len(attributes), squeeze=False)[0]
    for ax, attribute in zip(axes, attributes, strict=True):
        _group_bars(ax, attribute, splits)
    axes[0].set_ylabel("selection rate")
    if len(splits) > 1:
        axes[-1].legend(fontsize="small")
    return to_svg(fig, "fairness")


def _selection_rates(fairness: Fairness) -> dict[str, dict[str, float]]:
    """Selection rate per group per attribute, keeping only groups that report one."""
    rates: dict[str, dict[str, float]] = {}
    for attribute, entry in fairness.items():
        found = {
            group: stats.selection_rate
            for group, stats in entry.groups.items()
            if stats.selection_rate is not None and math.isfinite(stats.selection_rate)
        }
        if found:
            rates[attribute] = found
    return rates


def _group_bars(ax: Axes, attribute: str, splits: dict[str, dict[str, dict[str, float]]]) -> None:
    groups = list(dict.fromkeys(g for rates in splits.values() for g in rates.get(attribute, {})))
    positions = np.arange(len(groups))
    bar = 0.8 / len(splits)
    for i, (split, rates) in enumerate(splits.items()):
        values = [rates.get(attribute, {}).get(group, math.nan) for group in groups]
        offset = (i - (len(splits) - 1) / 2) * bar
        ax.bar(positions + offset, values, bar, label=split)
    ax.set_xticks(positions, [plain(g) for g in groups], rotation=30 if len(groups) > 4 else 0)
    ax.set_title(plain(attribute))
    ax.set_ylim(bottom=0)
    ax.grid(axis="y", alpha=0.3)
