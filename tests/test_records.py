"""metrics.json and match.json as typed records: files written before records were
versioned still load with their values, a record round-trips to the same JSON, a
field that does not fit is an error naming the file and the field, and a file from
a newer tailorml is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tailorml.errors import DataError
from tailorml.records import MatchResult, Metrics
from tailorml.records.base import Record

# written by `tailor train` / `tailor match` before records were versioned (version 0)
FIXTURES = Path(__file__).parent / "fixtures" / "records"
RECORDS: dict[str, type[Record]] = {
    "metrics_binary_v0.json": Metrics,
    "metrics_regression_v0.json": Metrics,
    "metrics_private_v0.json": Metrics,
    "match_v0.json": MatchResult,
}


def test_a_reweighed_binary_run_loads_with_its_values() -> None:
    metrics = Metrics.read(FIXTURES / "metrics_binary_v0.json")
    assert metrics.format_version == Metrics.FORMAT
    assert (metrics.task, metrics.target, metrics.labels) == (
        "classification",
        "credit_risk",
        ["good", "bad"],
    )
    assert metrics.data is not None and metrics.data.rows == {
        "train": 720,
        "test": 200,
        "validation": 80,
    }
    assert (
        metrics.train is not None and metrics.train.epochs == 2 and not metrics.train.early_stopped
    )
    test = metrics.test
    assert test is not None and test["accuracy"] == 0.7 and test["roc_auc"] == 0.7447619047619048
    assert test.n == 200 and test.headline == "accuracy"
    assert test.ci95 is not None and (test.ci95.low, test.ci95.high) == (0.6348750000000001, 0.765)
    assert test.per_class is not None and test.per_class["good"].support == 140
    assert test.confusion_matrix == [[140, 0], [60, 0]]
    assert list(metrics.splits) == ["validation", "test"]
    assert metrics.fairness is not None and metrics.fairness.method == "reweigh"
    assert metrics.fairness.cells[2].weight == 1.12
    assert metrics.privacy is None


def test_a_regression_and_a_private_run_load_with_their_values() -> None:
    regression = Metrics.read(FIXTURES / "metrics_regression_v0.json")
    assert regression.labels == [] and regression.test is not None
    assert regression.test["mae"] == 1566.5152305832796 and regression.test.per_class is None
    assert regression.test.ci95 is not None and regression.test.ci95.metric == "mae"
    private = Metrics.read(FIXTURES / "metrics_private_v0.json")
    assert private.privacy is not None and private.privacy.epsilon == 7.9918092221996755
    assert (private.privacy.target_epsilon, private.privacy.accountant) == (8.0, "prv")
    assert private.train is not None and private.train.final_loss == 0.6283360048721397


def test_a_match_loads_with_its_values() -> None:
    match = MatchResult.read(FIXTURES / "match_v0.json")
    assert match.format_version == MatchResult.FORMAT
    assert match.scenario.name == "loans_fixture" and match.scenario.data.target == "credit_risk"
    assert match.scenario.spec().constraints.fairness[0].max == 0.2
    assert match.data is not None and match.data.columns[1].type == "number"
    assert match.search is not None and match.search.rungs[0].promoted[0] == "linear_eg"
    assert [c.name for c in match.candidates] == ["linear_eg", "linear_c1", "linear_c0.1"]
    assert match.recommended == "linear_c0.1" and match.binding_constraint is None
    chosen = match.chosen
    assert chosen is not None and chosen.family == "linear" and chosen.params == {"C": 0.1}
    figures = match.candidates[1].metrics
    assert figures["accuracy"] == 0.7074468085106383
    assert figures.quality is not None and figures.quality.high == 0.7712765957446809
    assert figures.decision is not None and figures.decision.threshold == 0.2735637128353119
    assert figures.tuning is not None and figures.tuning.binding == "max_dpd:personal_status_sex"
    limit = figures.limits["max_dpd:personal_status_sex"]
    assert limit.judged and limit.scope.min_group_size == 30
    assert match.test is not None and match.test.metrics["accuracy"] == 0.696
    check = match.test.constraints["max_dpd:personal_status_sex"]
    assert (check.value, check.limit, check.passed, check.judged) == (
        0.04194283347141675,
        0.2,
        True,
        True,
    )
    small = match.small_groups["test"]["max_dpd:personal_status_sex"][0]
    assert (small.group, small.n, small.selection_rate.ci95) == (
        "male : divorced/separated",
        17,
        (0.2616510631137911, 0.6903676508497769),
    )


@pytest.mark.parametrize("name", RECORDS)
def test_an_unversioned_file_writes_back_the_same_json(name: str, tmp_path: Path) -> None:
    record = RECORDS[name].read(FIXTURES / name)
    record.write(tmp_path / name)
    written = json.loads((tmp_path / name).read_text())
    assert written.pop("format_version") == record.FORMAT
    assert written == json.loads((FIXTURES / name).read_text())  # no key added, lost or retyped
    again = RECORDS[name].read(tmp_path / name)
    assert again == record and again.dump() == record.dump()


def test_a_wrong_typed_field_names_the_file_and_the_field(tmp_path: Path) -> None:
    data = json.loads((FIXTURES / "match_v0.json").read_text())
    data["candidates"][0]["metrics"]["latency_p95_ms"] = "fast"
    path = tmp_path / "match.json"
    path.write_text(json.dumps(data))
    with pytest.raises(DataError, match=r"match\.json.*candidates\.0\.metrics\.latency_p95_ms"):
        MatchResult.read(path)
    data = json.loads((FIXTURES / "metrics_binary_v0.json").read_text())
    data["test"]["accuracy"] = "high"
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps(data))
    with pytest.raises(DataError, match=r"metrics\.json.*test\.accuracy"):
        Metrics.read(path)


def test_an_unknown_key_is_refused(tmp_path: Path) -> None:
    data = json.loads((FIXTURES / "metrics_binary_v0.json").read_text())
    data["train"]["epoch"] = 2
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps(data))
    with pytest.raises(DataError, match=r"train\.epoch"):
        Metrics.read(path)


@pytest.mark.parametrize("name", RECORDS)
def test_a_newer_format_version_is_refused(name: str, tmp_path: Path) -> None:
    data = json.loads((FIXTURES / name).read_text())
    data["format_version"] = RECORDS[name].FORMAT + 1
    path = tmp_path / name
    path.write_text(json.dumps(data))
    with pytest.raises(DataError, match="newer than this tailorml reads"):
        RECORDS[name].read(path)
