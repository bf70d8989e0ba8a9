"""Measurement functions: latency, throughput, size, FLOPs, money, fairness, Pareto."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    equalized_odds_ratio,
    selection_rate,
)
from torch import nn

from tailorml.evaluate import measure


def test_latency_times_one_row_calls() -> None:
    seen: list[int] = []

    def predict(rows: pd.DataFrame) -> None:
        seen.append(len(rows))
        time.sleep(0.002)

    result = measure.latency_ms(predict, pd.DataFrame({"x": range(10)}), n=30, warmup=5)
    assert set(seen) == {1} and len(seen) == 35
    assert 1.5 <= result["p50_ms"] <= 20
    assert result["p95_ms"] >= result["p50_ms"]


def test_latency_rows_are_seeded_and_cycle() -> None:
    def rows_seen(seed: int) -> list[int]:
        seen: list[int] = []
        frame = pd.DataFrame({"x": [7, 8, 9]})
        measure.latency_ms(
            lambda r: seen.append(int(r["x"].iloc[0])), frame, n=9, warmup=0, seed=seed
        )
        return seen

    first = rows_seen(3)
    assert first == rows_seen(3)
    assert sorted(first) == [7, 7, 7, 8, 8, 8, 9, 9, 9]


def test_throughput_counts_rows() -> None:
    def predict(rows: pd.DataFrame) -> None:
        time.sleep(len(rows) * 1e-5)  # 100k rows/s at most

    rate = measure.throughput_rows_per_s(predict, pd.DataFrame({"x": range(2000)}), min_seconds=0.1)
    assert 10_000 < rate < 100_000


def test_folder_size(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"x" * 500_000)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b").write_bytes(b"x" * 250_000)
    assert measure.folder_size_mb(tmp_path) == pytest.approx(0.75)
    assert measure.folder_size_mb(tmp_path / "a") == pytest.approx(0.5)


def test_parameters_and_flops() -> None:
    linear = nn.Linear(10, 5)
    assert measure.torch_parameters(linear) == 55
    assert measure.torch_flops_per_row(linear, torch.zeros(4, 10)) == 100
    conv = nn.Conv2d(1, 2, 3)  # 26×26 outputs × 2 channels × 9 MACs × 2
    assert measure.torch_flops_per_row(conv, torch.zeros(3, 1, 28, 28)) == 2 * 26 * 26 * 2 * 9

    class Two(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Linear(3, 4)

        def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
            return self.a(inputs["x"])

    assert measure.torch_flops_per_row(Two(), {"x": torch.zeros(5, 3)}) == 24


def test_money() -> None:
    assert measure.cost_per_1k(0.01, 3.6) == pytest.approx(0.01)
    assert measure.training_cost(1800, 2.0) == pytest.approx(1.0)
    assert measure.value_per_1k(np.array([1.0, 0.0, 1.0, 0.0])) == pytest.approx(500)


def test_fairness_report_matches_fairlearn() -> None:
    rng = np.random.default_rng(0)
    y, pred = rng.integers(0, 2, 400), rng.integers(0, 2, 400)
    sex, race = rng.choice(["f", "m"], 400), rng.choice(["a", "b", "c"], 400)
    report = measure.fairness_report(y, pred, {"sex": sex, "race": race})
    for name, groups in (("sex", sex), ("race", race)):
        assert report[name].demographic_parity_difference == pytest.approx(
            demographic_parity_difference(y, pred, sensitive_features=groups)
        )
        assert report[name].equalized_odds_difference == pytest.approx(
            equalized_odds_difference(y, pred, sensitive_features=groups)
        )
        assert sum(g.n for g in report[name].groups.values()) == 400
    assert set(report["race"].groups) == {"a", "b", "c"}


def test_fairness_ratios_and_groups_match_fairlearn() -> None:
    rng = np.random.default_rng(1)
    y, pred = rng.integers(0, 2, 300), rng.integers(0, 2, 300)
    groups = rng.choice(["x", "y", "z"], 300)
    report = measure.fairness_report(y, pred, {"g": groups})["g"]
    assert report.demographic_parity_ratio == pytest.approx(
        demographic_parity_ratio(y, pred, sensitive_features=groups)
    )
    assert report.equalized_odds_ratio == pytest.approx(
        equalized_odds_ratio(y, pred, sensitive_features=groups)
    )
    frame = MetricFrame(
        metrics=selection_rate, y_true=y, y_pred=pred, sensitive_features=groups
    ).by_group
    for name, rates in report.groups.items():
        assert rates.n == int((groups == name).sum())
        assert rates.selection_rate == pytest.approx(frame[name])
        assert rates.accuracy == pytest.approx(float((y == pred)[groups == name].mean()))


def test_missing_group_labels_are_named() -> None:
    y, pred = np.array([1, 0, 1, 0]), np.array([1, 1, 0, 0])
    groups = np.array(["a", None, "a", np.nan], dtype=object)
    report = measure.fairness_report(y, pred, {"g": groups})["g"]
    assert set(report.groups) == {"a", "<missing>"}
    assert report.groups["<missing>"].n == 2


def test_group_without_positives_gives_none_not_nan() -> None:
    y = np.array([1, 0, 1, 0, 0, 0])
    pred = np.array([1, 0, 0, 1, 0, 1])
    groups = np.array(["a", "a", "a", "b", "b", "b"])
    report = measure.fairness_report(y, pred, {"g": groups})
    assert report["g"].groups["b"].tpr is None
    json.dumps({a: r.model_dump(mode="json") for a, r in report.items()}, allow_nan=False)


def test_pareto_front() -> None:
    points = {
        "fast": {"quality": 0.80, "latency": 1.0},
        "good": {"quality": 0.90, "latency": 5.0},
        "worse": {"quality": 0.79, "latency": 2.0},  # dominated by fast
        "unknown": {"quality": 0.95, "latency": None},
    }
    assert measure.pareto_front(points, {"quality"}, {"latency"}) == ["fast", "good", "unknown"]
