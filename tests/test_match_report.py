"""The HTML report of a match: recommendation, infeasibility, regression, safety."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tailorml.errors import TailorError
from tailorml.report.match import format_number, render_match_report, write_match_report


def fairness(male_rate: float, female_rate: float) -> dict[str, Any]:
    return {
        "sex": {
            "demographic_parity_difference": round(abs(male_rate - female_rate), 4),
            "equalized_odds_difference": 0.08,
            "groups": {
                "Male": {"n": 4000, "selection_rate": male_rate, "accuracy": 0.84},
                "Female": {"n": 2000, "selection_rate": female_rate, "accuracy": 0.9},
            },
        }
    }


def candidate(
    name: str,
    family: str,
    accuracy: float,
    p95: float,
    value: float | None,
    rejected: list[str] | None = None,
) -> dict[str, Any]:
    metrics: dict[str, Any] = {
        "quality": {
            "metric": "accuracy",
            "value": accuracy,
            "low": accuracy - 0.01,
            "high": accuracy + 0.01,
        },
        "accuracy": accuracy,
        "train_seconds": 3.2,
        "latency_p50_ms": p95 / 2,
        "latency_p95_ms": p95,
        "size_mb": 0.4,
        "cost_per_1k": 0.00002,
        "fairness": fairness(0.2, 0.16),
        "value_per_1k": value,
        "baseline_value_per_1k": None if value is None else value - 20.0,
        "decision": {
            "threshold": 0.5,
            "group_attribute": "sex",
            "group_thresholds": {"Male": 0.6, "Female": 0.3},
        },
    }
    return {
        "name": name,
        "family": family,
        "params": {},
        "status": "finished",
        "metrics": metrics,
        "constraints": {
            "min_accuracy": {"value": accuracy, "limit": 0.85, "pass": accuracy >= 0.85},
            "max_latency_p95_ms": {"value": p95, "limit": 5.0, "pass": p95 <= 5.0},
        },
        "feasible": not rejected,
        "value_per_1k": value,
        "rejected_because": rejected or [],
    }


def classification_match() -> dict[str, Any]:
    return {
        "scenario": {
            "name": "credit_income",
            "domain": "finance",
            "task": "classification",
            "data": {"source": "builtin:adult", "target": "income"},
            "constraints": {"min_accuracy": 0.85, "max_latency_p95_ms": 5.0},
        },
        "portfolio": {
            "reasons": ["32,561 rows of tabular data, 120 s budget: small models only"],
            "candidates": ["logistic", "lightgbm_small", "mlp_small"],
        },
        "search": {
            "seed": 0,
            "budget_s": 120,
            "elapsed_s": 95.2,
            "rungs": [
                {"rung": 0, "fraction": 0.25, "trained": ["a", "b", "c"], "promoted": ["a"]},
            ],
            "completed_trials": 9,
            "stopped_by_budget": False,
        },
        "candidates": [
            candidate("logistic", "linear", 0.851, 0.1, 830.0),
            candidate("mlp_small", "deep", 0.87, 7.1, 860.0, ["max_latency_p95_ms: 7.1 > 5.0"]),
            candidate("lightgbm_small", "lightgbm", 0.86, 1.2, 850.0),
        ],
        "recommended": "lightgbm_small",
        "reasoning": ["lightgbm_small is feasible and has the highest value per 1,000 (850.0)"],
        "binding_constraint": None,
        "closest": [],
        "pareto": ["lightgbm_small", "logistic", "mlp_small"],
        "pareto_axes": {"maximise": ["quality"], "minimise": ["latency_p95_ms", "cost_per_1k"]},
        "test": {
            "metrics": {"accuracy": 0.861, "roc_auc": 0.91},
            "constraints": {
                "min_accuracy": {"value": 0.861, "limit": 0.85, "pass": True},
                "max_latency_p95_ms": {"value": 5.3, "limit": 5.0, "pass": False},
            },
            "fairness": fairness(0.21, 0.15),
        },
    }


def infeasible_match() -> dict[str, Any]:
    match = classification_match()
    for entry in match["candidates"]:
        entry["feasible"] = False
        entry["rejected_because"] = ["max_dpd:sex: 0.04 > 0.01 (by 0.03)"]
        entry["constraints"]["max_dpd:sex"] = {"value": 0.04, "limit": 0.01, "pass": False}
    match.update(
        recommended=None,
        binding_constraint="max_dpd:sex",
        closest=["lightgbm_small", "logistic"],
        reasoning=["no candidate keeps the parity gap under 0.01"],
    )
    del match["test"]
    return match


def regression_match() -> dict[str, Any]:
    candidates = []
    for name, mae, p95 in (("ridge", 3.1, 0.05), ("lightgbm_small", 2.4, 1.5)):
        metrics = {
            "quality": {"metric": "mae", "value": mae},
            "mae": mae,
            "latency_p95_ms": p95,
            "cost_per_1k": 1e-5,
        }
        candidates.append({"name": name, "family": "x", "metrics": metrics, "feasible": True})
    return {
        "scenario": {"name": "house_prices", "task": "regression"},
        "candidates": candidates,
        "recommended": "lightgbm_small",
        "pareto": ["lightgbm_small", "ridge"],
    }


def write(tmp_path: Path, match: dict[str, Any]) -> Path:
    (tmp_path / "match.json").write_text(json.dumps(match), encoding="utf-8")
    return tmp_path


def assert_self_contained(html: str) -> None:
    assert "http://" not in html and "https://" not in html
    assert not re.search(r"<(script|link|img)\b", html)
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids)), "charts on one page must not share element ids"


def test_recommendation_report(tmp_path: Path) -> None:
    path = write_match_report(write(tmp_path, classification_match()))

    assert path == tmp_path / "report.html" and path.is_file()
    assert list(tmp_path.glob(".*.tmp")) == []
    html = path.read_text(encoding="utf-8")
    for name in ("logistic", "mlp_small", "lightgbm_small"):
        assert name in html
    assert 'class="big">lightgbm_small<' in html
    assert '<tr class="recommended">\n        <td>lightgbm_small' in html
    assert "No feasible model" not in html
    assert html.count("<svg") == 2  # the Pareto plot and the fairness bars
    assert "Quality against latency" in html and "Fairness of lightgbm_small" in html
    assert "max_latency_p95_ms: 7.1 &gt; 5.0" in html  # why mlp_small was rejected
    assert "held" in html and "broken" in html  # latency broke on test
    assert "+20" in html  # value gained over the 0.5 threshold
    assert "Male" in html and "0.3" in html  # per-group thresholds
    assert "95.2 s of 120 s budget (79%)" in html
    assert "source: builtin:adult" in html  # the scenario as YAML
    assert "32,561 rows" in html
    assert_self_contained(html)


def test_leaderboard_puts_feasible_first_then_value(tmp_path: Path) -> None:
    html = render_match_report(write(tmp_path, classification_match()))
    board = html[html.index('id="leaderboard"') : html.index('id="constraints"')]
    order = [board.index(f"<td>{name}") for name in ("lightgbm_small", "logistic", "mlp_small")]
    assert order == sorted(order)


def test_nothing_feasible(tmp_path: Path) -> None:
    html = write_match_report(write(tmp_path, infeasible_match())).read_text(encoding="utf-8")

    assert "No feasible model" in html
    assert "max_dpd:sex" in html
    assert "Closest candidates" in html
    for name in ("logistic", "mlp_small", "lightgbm_small"):
        assert name in html
    assert 'class="recommended"' not in html
    assert "<svg" in html  # the Pareto plot is still drawn
    assert "Held on test?" not in html
    assert_self_contained(html)


def test_regression_without_fairness_or_decision(tmp_path: Path) -> None:
    html = write_match_report(write(tmp_path, regression_match())).read_text(encoding="utf-8")

    assert "house_prices" in html and "ridge" in html and "lightgbm_small" in html
    assert "mae" in html
    assert html.count("<svg") == 1  # Pareto only: no fairness chart
    assert "Decision thresholds" not in html and "Fairness of" not in html
    assert_self_contained(html)


def test_candidate_names_are_escaped(tmp_path: Path) -> None:
    match = classification_match()
    evil = "<script>alert(1)</script>"
    match["candidates"][0]["name"] = evil
    match["pareto"].append(evil)  # so the Pareto plot labels it too
    match["scenario"]["name"] = "$x$ & co"

    html = write_match_report(write(tmp_path, match)).read_text(encoding="utf-8")

    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert_self_contained(html)


def test_bare_match_renders(tmp_path: Path) -> None:
    html = render_match_report(write(tmp_path, {}))
    assert "No feasible model" in html and "No candidates were recorded" in html


def test_missing_match_json_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TailorError, match="match.json"):
        write_match_report(tmp_path)


@pytest.mark.parametrize("text", ["{not json", "[1, 2]"])
def test_malformed_match_json_is_a_clear_error(tmp_path: Path, text: str) -> None:
    (tmp_path / "match.json").write_text(text, encoding="utf-8")
    with pytest.raises(TailorError, match="match.json"):
        write_match_report(tmp_path)
    assert not (tmp_path / "report.html").exists()


def test_small_numbers_keep_their_digits() -> None:
    assert format_number(0.00002) == "2e-05"
    assert format_number(50000.0) == "50,000.0"
    assert format_number(None) == "—"
    assert format_number(0.861) == "0.861"
