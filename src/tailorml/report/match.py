"""The HTML report of a match: which model fits the scenario, and why.

``tailor match`` leaves ``match.json`` in its run folder; :func:`write_match_report`
turns it into ``report.html``: one self-contained file (inline CSS, inline SVG
charts, no external URLs) that can be mailed or archived and opens offline.

``match.json`` keys read (each optional; missing parts are left out of the page):
    ``scenario``: the resolved scenario (``name``, ``domain``, ``task``,
    ``data.source``, ``data.target``), also shown whole as YAML.
    ``portfolio``: ``reasons`` and ``candidates`` of the portfolio rule.
    ``search``: ``seed``, ``budget_s``, ``elapsed_s``, ``completed_trials``,
    ``stopped_by_budget`` and ``rungs`` (``rung``, ``fraction``, ``trained``, ``promoted``).
    ``candidates``: ``name``, ``family``, ``status``, ``error``, ``metrics``,
    ``constraints``, ``feasible``, ``value_per_1k`` and ``rejected_because``.
    ``recommended``, ``reasoning``, ``binding_constraint``, ``closest``, ``pareto``,
    ``pareto_axes`` and ``test`` (``metrics``, ``constraints``, ``fairness``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import yaml
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from tailorml.io import atomic_write_text
from tailorml.report.charts import CURVE_SIZE, to_svg
from tailorml.report.html import REPORT_NAME, format_value, read_json_object
from tailorml.report.render import render

MATCH_NAME = "match.json"
_LOG_SPREAD = 20.0  # latency ratio beyond which the Pareto plot's x axis turns logarithmic
_GAP_NAMES = {"demographic_parity_difference": "DPD", "equalized_odds_difference": "EOD"}
_SEARCH_NAMES = {
    "seed": "Seed",
    "completed_trials": "Completed trials",
    "stopped_by_budget": "Stopped by budget",
}


def write_match_report(run_dir: Path) -> Path:
    """Write ``run_dir/report.html`` from the folder's ``match.json``.

    Args:
        run_dir: The folder ``tailor match`` wrote, holding ``match.json``.

    Returns:
        The path of the written report.

    Raises:
        TailorError: ``match.json`` is missing, is not valid JSON, or holds no object.
    """
    run_dir = Path(run_dir)
    html = render_match_report(run_dir)
    target = run_dir / REPORT_NAME
    atomic_write_text(target, html)
    return target


def render_match_report(run_dir: Path) -> str:
    """Render the match report of a folder as an HTML string (see :func:`write_match_report`).

    Args:
        run_dir: The folder ``tailor match`` wrote, holding ``match.json``.

    Returns:
        The whole HTML page.

    Raises:
        TailorError: ``match.json`` is missing, is not valid JSON, or holds no object.
    """
    run_dir = Path(run_dir)
    match = _read_match(run_dir / MATCH_NAME)
    return render("match.html.j2", _build_context(run_dir, match), {"fmt": format_number})


def format_number(value: Any) -> str:
    """Format a figure for display: 4 significant digits, thousands separators, "—" for None.

    Args:
        value: A number, bool, string or None.

    Returns:
        The display text; small costs keep their digits (``2e-05``, not ``0.0000``).
    """
    return format_value(value, small=".4g")


# ---------------------------------------------------------------- reading


def _read_match(path: Path) -> dict[str, Any]:
    return read_json_object(path, "run `tailor match` to write one")


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _strings(value: Any) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else []


def _number(value: Any) -> float | None:
    """The value as a finite float, or None for anything else (bools included)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _named(candidate: dict[str, Any], name: Any) -> bool:
    return name is not None and str(candidate.get("name", "?")) == str(name)


def _ordered(mappings: Iterable[dict[str, Any]]) -> list[str]:
    """The keys of several mappings, each once, in order of first appearance."""
    keys: dict[str, None] = {}
    for mapping in mappings:
        keys.update(dict.fromkeys(mapping))
    return list(keys)


def _metrics(candidate: dict[str, Any] | None) -> dict[str, Any]:
    return _dict(candidate.get("metrics")) if candidate else {}


def _value_per_1k(candidate: dict[str, Any]) -> float | None:
    value = candidate.get("value_per_1k", _metrics(candidate).get("value_per_1k"))
    return _number(value)


# ---------------------------------------------------------------- context


def _build_context(run_dir: Path, match: dict[str, Any]) -> dict[str, Any]:
    scenario = _dict(match.get("scenario"))
    test = _dict(match.get("test"))
    candidates = _rank([c for c in match.get("candidates") or [] if isinstance(c, dict)])
    wanted = match.get("recommended")
    recommended = next((c for c in candidates if _named(c, wanted)), None)
    pareto = _strings(match.get("pareto"))
    return {
        "header": _header(run_dir, scenario),
        "recommended_name": None if wanted is None else str(wanted),
        "recommendation": _recommendation(recommended),
        "binding_constraint": match.get("binding_constraint"),
        "closest": _strings(match.get("closest")),
        "reasoning": _strings(match.get("reasoning")),
        "portfolio": _portfolio(_dict(match.get("portfolio"))),
        "quality_metric": _quality_metric(candidates),
        "leaderboard": [_leaderboard_row(c, wanted, pareto) for c in candidates],
        "constraint_names": _constraint_names(candidates),
        "pareto_chart": _pareto_chart(candidates, pareto, wanted),
        "pareto_axes": _pareto_axes(_dict(match.get("pareto_axes"))),
        "fairness_chart": _fairness_chart(recommended, test),
        "fairness_rows": _fairness_rows(recommended, test),
        "limit_rows": _limit_rows(recommended, test),
        "test_rows": _test_rows(recommended, test),
        "test_metrics": _scalars(_dict(test.get("metrics"))),
        "decision": _decision(recommended),
        "search": _search(_dict(match.get("search"))),
        "scenario_yaml": _scenario_yaml(scenario),
    }


def _rank(candidates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Feasible candidates first, then by value per 1,000 predictions, highest first."""

    def key(candidate: dict[str, Any]) -> tuple[bool, float]:
        value = _value_per_1k(candidate)
        return candidate.get("feasible") is not True, -value if value is not None else math.inf

    return sorted(candidates, key=key)


def _header(run_dir: Path, scenario: dict[str, Any]) -> dict[str, Any]:
    data = _dict(scenario.get("data"))
    return {
        "name": str(scenario.get("name") or run_dir.resolve().name),
        "domain": scenario.get("domain"),
        "task": scenario.get("task"),
        "source": data.get("source"),
        "target": data.get("target"),
    }


def _recommendation(candidate: dict[str, Any] | None) -> dict[str, Any] | None:
    if candidate is None:
        return None
    metrics = _metrics(candidate)
    return {
        "family": candidate.get("family"),
        "quality": _quality(metrics),
        "value_per_1k": _value_per_1k(candidate),
        "latency_p95_ms": metrics.get("latency_p95_ms"),
        "cost_per_1k": metrics.get("cost_per_1k"),
    }


def _portfolio(portfolio: dict[str, Any]) -> dict[str, Any] | None:
    reasons, names = _strings(portfolio.get("reasons")), _strings(portfolio.get("candidates"))
    return {"reasons": reasons, "candidates": names} if reasons or names else None


def _quality(metrics: dict[str, Any]) -> dict[str, Any]:
    quality = _dict(metrics.get("quality"))
    return {
        "metric": quality.get("metric"),
        "value": quality.get("value"),
        "low": quality.get("low"),
        "high": quality.get("high"),
    }


def _quality_metric(candidates: list[dict[str, Any]]) -> str | None:
    names = (_quality(_metrics(c))["metric"] for c in candidates)
    return next((str(name) for name in names if name), None)


def _leaderboard_row(
    candidate: dict[str, Any], recommended: Any, pareto: list[str]
) -> dict[str, Any]:
    metrics = _metrics(candidate)
    name = str(candidate.get("name", "?"))
    constraints = _dict(candidate.get("constraints"))
    return {
        "name": name,
        "family": candidate.get("family"),
        "quality": _quality(metrics),
        "value_per_1k": _value_per_1k(candidate),
        "latency_p95_ms": metrics.get("latency_p95_ms"),
        "cost_per_1k": metrics.get("cost_per_1k"),
        "size_mb": metrics.get("size_mb"),
        "train_seconds": metrics.get("train_seconds"),
        "fairness": _fairness_gaps(metrics),
        "feasible": candidate.get("feasible"),
        "why": _rejections(candidate),
        "recommended": _named(candidate, recommended),
        "pareto": name in pareto,
        "constraints": {k: _dict(v) for k, v in constraints.items()},
    }


def _fairness_gaps(metrics: dict[str, Any]) -> list[str]:
    """One line per protected attribute, e.g. ``sex: DPD 0.04 · EOD 0.08``."""
    lines = []
    for attribute, entry in _dict(metrics.get("fairness")).items():
        gaps = [
            f"{short} {format_number(_dict(entry).get(key))}"
            for key, short in _GAP_NAMES.items()
            if key in _dict(entry)
        ]
        if gaps:
            lines.append(f"{attribute}: {' · '.join(gaps)}")
    if not lines and _number(metrics.get("fairness_gap")) is not None:
        lines.append(format_number(metrics["fairness_gap"]))
    return lines


def _rejections(candidate: dict[str, Any]) -> list[str]:
    reasons = _strings(candidate.get("rejected_because"))
    status = candidate.get("status")
    if status not in (None, "finished"):
        error = candidate.get("error")
        reasons.insert(0, f"trial {status}" + (f": {error}" if error else ""))
    return reasons


def _constraint_names(candidates: list[dict[str, Any]]) -> list[str]:
    return _ordered(_dict(candidate.get("constraints")) for candidate in candidates)


def _pareto_axes(axes: dict[str, Any]) -> str | None:
    parts = [
        f"{verb} {', '.join(_strings(axes.get(verb)))}"
        for verb in ("maximise", "minimise")
        if _strings(axes.get(verb))
    ]
    return "; ".join(parts) or None


def _fairness_rows(candidate: dict[str, Any] | None, test: dict[str, Any]) -> list[dict[str, Any]]:
    """Fairness gaps of the recommended model per attribute, on validation and on test."""
    validation = _dict(_metrics(candidate).get("fairness")) if candidate else {}
    on_test = _dict(test.get("fairness")) if candidate else {}
    rows = []
    for attribute in dict.fromkeys([*validation, *on_test]):
        for key, short in _GAP_NAMES.items():
            pair = [_dict(split.get(attribute)).get(key) for split in (validation, on_test)]
            if any(value is not None for value in pair):
                rows.append({"attribute": attribute, "gap": short, "values": pair})
    return rows


def _limit_rows(candidate: dict[str, Any] | None, test: dict[str, Any]) -> list[dict[str, Any]]:
    """Per fairness limit of the recommended model: the judged groups, the gap between
    them on validation and test, the effective limit, and the groups too small to judge."""
    validation = _dict(_metrics(candidate).get("limits")) if candidate else {}
    on_test = _dict(_dict(test.get("metrics")).get("limits")) if candidate else {}
    rows = []
    for name in dict.fromkeys([*validation, *on_test]):
        splits = [_dict(validation.get(name)), _dict(on_test.get(name))]
        small = [
            f"{g['group']} on {split} ({g['n']} rows, selection rate "
            f"{format_number(g['selection_rate']['value'])})"
            for split, figures in zip(("validation", "test"), splits, strict=True)
            for g in figures.get("too_small") or []
        ]
        rows.append({
            "name": name,
            "groups": [", ".join(_dict(f.get("groups"))) or "—" for f in splits],
            "gaps": [f.get("gap") for f in splits],
            "effective": splits[0].get("effective_limit"),
            "min_group_size": _dict(splits[0].get("scope") or splits[1].get("scope")).get(
                "min_group_size"),
            "too_small": small,
        })  # fmt: skip
    return rows


def _test_rows(candidate: dict[str, Any] | None, test: dict[str, Any]) -> list[dict[str, Any]]:
    """Each constraint on test beside its validation value: did it hold?"""
    if candidate is None:
        return []
    validation = _dict(candidate.get("constraints"))
    rows = []
    for name, raw in _dict(test.get("constraints")).items():
        entry = _dict(raw)
        held = entry.get("pass")
        rows.append(
            {
                "name": name,
                "limit": entry.get("limit", _dict(validation.get(name)).get("limit")),
                "validation": _dict(validation.get(name)).get("value"),
                "test": entry.get("value"),
                "held": held if isinstance(held, bool) else None,
            }
        )
    return rows


def _scalars(values: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(k, v) for k, v in values.items() if v is None or isinstance(v, int | float | str)]


def _decision(candidate: dict[str, Any] | None) -> dict[str, Any] | None:
    """The decision thresholds and the value they gain over a plain 0.5 cut."""
    metrics = _metrics(candidate)
    decision = _dict(metrics.get("decision"))
    value = _number(metrics.get("value_per_1k"))
    baseline = _number(metrics.get("baseline_value_per_1k"))
    if not decision and value is None and baseline is None:
        return None
    return {
        "threshold": decision.get("threshold"),
        "group_attribute": decision.get("group_attribute"),
        "group_thresholds": list(_dict(decision.get("group_thresholds")).items()),
        "value": value,
        "baseline": baseline,
        "gain": value - baseline if value is not None and baseline is not None else None,
    }


def _search(search: dict[str, Any]) -> dict[str, Any] | None:
    if not search:
        return None
    facts: list[tuple[str, Any]] = [
        (label, search[key]) for key, label in _SEARCH_NAMES.items() if key in search
    ]
    elapsed, budget = _number(search.get("elapsed_s")), _number(search.get("budget_s"))
    if elapsed is not None or budget is not None:
        time = f"{format_number(elapsed)} s of {format_number(budget)} s budget"
        if elapsed is not None and budget:
            time += f" ({elapsed / budget:.0%})"
        facts.insert(0, ("Elapsed", time))
    rungs = [
        {
            "rung": rung.get("rung"),
            "fraction": rung.get("fraction"),
            "trained": _strings(rung.get("trained")),
            "promoted": _strings(rung.get("promoted")),
        }
        for rung in search.get("rungs") or []
        if isinstance(rung, dict)
    ]
    return {"facts": facts, "rungs": rungs}


def _scenario_yaml(scenario: dict[str, Any]) -> str | None:
    if not scenario:
        return None
    return yaml.safe_dump(scenario, sort_keys=False, allow_unicode=True, default_flow_style=False)


# ---------------------------------------------------------------- charts


def _plain(text: str) -> str:
    """Text for a matplotlib label: ``$`` would otherwise switch on its math parser."""
    return text.replace("$", r"\$")


class _Point(NamedTuple):
    """One candidate on the Pareto plot."""

    name: str
    latency: float
    quality: float
    error: tuple[float, float]  # how far the 95% CI reaches below and above
    feasible: bool


def _pareto_points(candidates: list[dict[str, Any]]) -> list[_Point]:
    points = []
    for candidate in candidates:
        metrics = _metrics(candidate)
        quality = _quality(metrics)
        x, y = _number(metrics.get("latency_p95_ms")), _number(quality["value"])
        if x is None or y is None:
            continue
        low, high = _number(quality["low"]), _number(quality["high"])
        error = (y - low, high - y) if low is not None and high is not None else (0.0, 0.0)
        name = str(candidate.get("name", "?"))
        points.append(_Point(name, x, y, error, candidate.get("feasible") is True))
    return points


def _pareto_chart(
    candidates: list[dict[str, Any]], pareto: list[str], recommended: Any
) -> str | None:
    """Quality against p95 latency, one point per candidate, Pareto points labelled."""
    points = _pareto_points(candidates)
    if not points:
        return None
    fig = Figure(figsize=CURVE_SIZE, layout="constrained")
    ax = fig.add_subplot()
    for on_front, feasible in ((True, True), (True, False), (False, True), (False, False)):
        group = [p for p in points if (p.name in pareto) == on_front and p.feasible == feasible]
        if group:
            label = ("Pareto, " if on_front else "") + ("feasible" if feasible else "infeasible")
            color = "C0" if on_front else "#9aa5b1"
            _scatter_group(ax, group, color, "o" if feasible else "X", label)
    for point in points:
        if point.name in pareto or point.name == recommended:
            text = point.name + (" (recommended)" if point.name == recommended else "")
            xy = (point.latency, point.quality)
            ax.annotate(_plain(text), xy, xytext=(5, 5), textcoords="offset points")
    latencies = [p.latency for p in points]
    if min(latencies) > 0 and max(latencies) / min(latencies) >= _LOG_SPREAD:
        ax.set_xscale("log")
    ax.margins(x=0.2, y=0.1)  # room for the labels right of the points
    ax.set_xlabel("p95 latency (ms)")
    ax.set_ylabel(_plain(f"{_quality_metric(candidates) or 'quality'} (validation)"))
    ax.set_title("Quality against latency")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return to_svg(fig, "pareto")


def _scatter_group(ax: Axes, group: list[_Point], color: str, marker: str, label: str) -> None:
    xs, ys = [p.latency for p in group], [p.quality for p in group]
    errors = np.array([p.error for p in group]).T  # (2, N): below, above
    if errors.any():
        ax.errorbar(xs, ys, yerr=errors, fmt="none", ecolor=color, alpha=0.5, capsize=2)
    ax.scatter(xs, ys, c=color, marker=marker, s=48, label=label, zorder=3)


def _selection_rates(fairness: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Selection rate per group per attribute, keeping only groups that report one."""
    rates: dict[str, dict[str, float]] = {}
    for attribute, entry in fairness.items():
        groups = _dict(_dict(entry).get("groups"))
        found = {
            str(group): rate
            for group, stats in groups.items()
            if (rate := _number(_dict(stats).get("selection_rate"))) is not None
        }
        if found:
            rates[str(attribute)] = found
    return rates


def _fairness_chart(candidate: dict[str, Any] | None, test: dict[str, Any]) -> str | None:
    if candidate is None:
        return None
    return selection_rate_chart(
        {
            "validation": _dict(_metrics(candidate).get("fairness")),
            "test": _dict(test.get("fairness")),
        }
    )


def selection_rate_chart(reports: dict[str, dict[str, Any]]) -> str | None:
    """Grouped bars of selection rate per group, one panel per attribute.

    Args:
        reports: one fairness report (attribute → {"groups": {group: {"selection_rate"}}})
            per series, e.g. validation and test, or before and after mitigation.
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


def _group_bars(ax: Axes, attribute: str, splits: dict[str, dict[str, dict[str, float]]]) -> None:
    groups = _ordered(rates.get(attribute, {}) for rates in splits.values())
    positions = np.arange(len(groups))
    bar = 0.8 / len(splits)
    for i, (split, rates) in enumerate(splits.items()):
        values = [rates.get(attribute, {}).get(group, math.nan) for group in groups]
        offset = (i - (len(splits) - 1) / 2) * bar
        ax.bar(positions + offset, values, bar, label=split)
    rotate = len(groups) > 4
    ax.set_xticks(positions, [_plain(g) for g in groups], rotation=30 if rotate else 0)
    ax.set_title(_plain(attribute))
    ax.set_ylim(bottom=0)
    ax.grid(axis="y", alpha=0.3)
