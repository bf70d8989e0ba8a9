"""`tailor explain` and the `explanations: required` match constraint."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

import tailorml
from tailorml.data import load_builtin
from tailorml.pipelines import match


def german_run(tmp_path: Path) -> tuple[Path, Path]:
    frame = load_builtin("german_credit").frames["all"]
    data = tmp_path / "german.csv"
    frame.to_csv(data, index=False)
    config = {
        "data": {"source": str(data), "target": "credit_risk"},
        "input_features": [
            {"name": "duration", "type": "number"},
            {"name": "status", "type": "category"},
            {"name": "purpose", "type": "category"},
        ],
        "output_features": [{"name": "credit_risk", "type": "binary", "positive": "bad"}],
        "training": {"epochs": 3},
    }
    tailorml.train(config, tmp_path / "run", quiet=True)
    return tmp_path / "run", data


def test_explain_writes_attributions_per_row(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    run, data = german_run(tmp_path)
    result = cli("explain", str(run), "--data", str(data), "--rows", "0:5")
    assert result.returncode == 0, result.stderr
    saved = json.loads((run / "explanations.json").read_text())
    explanations = saved["rows"]
    assert len(explanations) == 5
    assert set(explanations[0]["features"]) == {"duration", "status", "purpose"}
    assert (run / "explanations.html").is_file()
    assert set(saved["permutation_importance"]) == {"duration", "status", "purpose"}
    assert "row 0:" in result.stdout


def test_bad_row_range_is_a_clear_error(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    run, data = german_run(tmp_path)
    result = cli("explain", str(run), "--data", str(data), "--rows", "5:two")
    assert result.returncode == 2 and "START:STOP" in result.stderr
    assert "Traceback" not in result.stderr


def test_explanations_required_is_a_checked_constraint(tmp_path: Path) -> None:
    scenario = yaml.safe_load(Path("scenarios/credit_risk.yaml").read_text())
    scenario["constraints"] = {"explanations": "required"}
    scenario["budget"] = {"seconds": 30}
    path = tmp_path / "explained.yaml"
    path.write_text(yaml.safe_dump(scenario))
    result = match(path, tmp_path / "run", quiet=True)
    for candidate in result.candidates:
        check = candidate.constraints["explanations"]
        assert check.value is candidate.metrics.explainable
        assert check.passed == check.value
    assert result.recommended is not None
