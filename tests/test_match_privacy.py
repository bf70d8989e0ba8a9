"""`max_epsilon` in a scenario: only differentially private candidates."""

from __future__ import annotations

from pathlib import Path

import yaml

from tailorml.pipelines import match

ROOT = Path(__file__).resolve().parents[1]


def test_max_epsilon_trains_only_private_candidates(tmp_path: Path) -> None:
    scenario = yaml.safe_load((ROOT / "scenarios" / "credit_risk.yaml").read_text())
    scenario["constraints"] = {"max_epsilon": 8}
    scenario["budget"] = {"seconds": 60}
    path = tmp_path / "private.yaml"
    path.write_text(yaml.safe_dump(scenario))
    result = match(path, tmp_path / "run", quiet=True)
    assert all(name.endswith("_dp") for name in result.portfolio.candidates)
    assert any("no differentially private variant" in r for r in result.portfolio.reasons)
    for candidate in result.candidates:
        assert candidate.family == "deep"
        epsilon = candidate.metrics.epsilon
        assert 0 < epsilon <= 8 + 1e-6
        assert candidate.constraints["max_epsilon"].passed
    assert result.recommended is not None
