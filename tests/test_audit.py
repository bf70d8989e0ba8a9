"""`tailor audit`: per-group rates with intervals, gaps, threshold mitigation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import demographic_parity_difference

import tailorml
from tailorml.data import load_builtin

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def adult_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("adult") / "run"
    tailorml.train(ROOT / "examples" / "adult_mlp.yaml", folder, quiet=True)
    return folder


def test_mitigation_brings_parity_under_the_limit_on_the_test_file(  # type: ignore[no-untyped-def]
    adult_run: Path, cli
) -> None:
    args = ["--sensitive", "sex", "--sensitive", "race", "--mitigate", "demographic_parity"]
    result = cli("audit", str(adult_run), "--data", "builtin:adult", *args, "--max-gap", "0.05")
    assert result.returncode == 0, result.stderr
    saved = json.loads((adult_run / "audit.json").read_text())
    before, after = saved["before"], saved["after"]
    assert before["attributes"]["sex"]["demographic_parity_difference"] > 0.1
    assert after["attributes"]["sex"]["demographic_parity_difference"] <= 0.05
    assert 0.8 < after["accuracy"] < before["accuracy"]
    assert "accuracy" in result.stdout and (adult_run / "audit.html").is_file()
    # the mitigated bundle reproduces the audited figure with fairlearn on the test file
    test = load_builtin("adult").frames["test"]
    preds = tailorml.load(adult_run / "mitigated").predict(test)["prediction"]
    dpd = demographic_parity_difference(
        test["income"] == ">50K", preds == ">50K", sensitive_features=test["sex"]
    )
    assert dpd == pytest.approx(after["attributes"]["sex"]["demographic_parity_difference"])


def test_group_rates_have_intervals_around_them(adult_run: Path) -> None:
    from tailorml.audit.fairness import audit

    run = tailorml.load(adult_run)
    rows = load_builtin("adult").frames["test"].iloc[:3000]
    report = audit(run, rows, ["sex"]).attributes["sex"]
    for group in ("Female", "Male"):
        stats = report.groups[group]
        for rate in ("selection_rate", "accuracy", "tpr", "fpr", "mean_probability"):
            low, high = stats.ci95[rate]
            assert low <= getattr(stats, rate) <= high
    women = rows["sex"] == "Female"
    assert report.groups["Female"].n == int(women.sum())
    assert report.groups["Female"].observed_rate == pytest.approx(
        float(np.mean(rows.loc[women, "income"] == ">50K"))
    )


def test_unknown_sensitive_column(adult_run: Path, cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("audit", str(adult_run), "--data", "builtin:adult", "--sensitive", "sexx")
    assert result.returncode == 2
    assert "did you mean 'sex'?" in result.stderr and "Traceback" not in result.stderr


def test_single_group_column(adult_run: Path, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rows = load_builtin("adult").frames["test"].iloc[:200].copy()
    rows["sex"] = "Female"
    data = tmp_path / "women.csv"
    rows.to_csv(data, index=False)
    result = cli("audit", str(adult_run), "--data", str(data), "--sensitive", "sex")
    assert result.returncode == 2
    assert "single group" in result.stderr and "Traceback" not in result.stderr


def test_audit_needs_a_binary_classifier(tmp_path: Path) -> None:
    from tailorml.audit.fairness import audit
    from tailorml.errors import DataError

    run = tailorml.train(ROOT / "examples" / "seed_cnn_mnist.yaml", None, quiet=True)
    frames = load_builtin("mnist").frames["test"].iloc[:100].copy()
    frames["group"] = ["a", "b"] * 50
    with pytest.raises(DataError, match="binary"):
        audit(run, pd.DataFrame(frames), ["group"])


def test_reweighed_training_halves_the_gap_and_the_audit_compares_it(  # type: ignore[no-untyped-def]
    adult_run: Path, cli, tmp_path: Path
) -> None:
    reweighed = tmp_path / "reweighed"
    tailorml.train(ROOT / "examples" / "adult_mlp_reweighed.yaml", reweighed, quiet=True)
    cells = json.loads((reweighed / "metrics.json").read_text())["fairness"]["cells"]
    assert {c["group"] for c in cells} == {"sex=Female", "sex=Male"} and len(cells) == 4
    args = ["--data", "builtin:adult", "--sensitive", "sex", "--baseline", str(adult_run)]
    result = cli("audit", str(reweighed), *args)
    assert result.returncode == 0, result.stderr
    saved = json.loads((reweighed / "audit.json").read_text())
    before = saved["before"]["attributes"]["sex"]["demographic_parity_difference"]
    after = saved["after"]["attributes"]["sex"]["demographic_parity_difference"]
    assert after < 0.7 * before
    assert saved["after"]["accuracy"] > saved["before"]["accuracy"] - 0.03
    assert saved["baseline"]["training"]["method"] == "reweigh"
    page = (reweighed / "audit.html").read_text()
    assert "Before and after mitigation" in page and "trained with reweigh by sex" in page
