"""metrics.json, match.json, audit.json and explanations.json as typed records: files
written before records were versioned still load with their values, a record
round-trips to the same JSON, a field that does not fit is an error naming the file
and the field, and a file from a newer tailorml is refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tailorml.errors import DataError
from tailorml.records import AuditRecord, ExplanationsRecord, MatchResult, Metrics, OnnxReport
from tailorml.records.base import Record
from tailorml.records.explanations import ImageAttribution, TextAttribution, ValueAttribution

# written by `tailor train`, `match`, `audit`, `explain`, `export` before versioning (version 0)
FIXTURES = Path(__file__).parent / "fixtures" / "records"
RECORDS: dict[str, type[Record]] = {
    "metrics_binary_v0.json": Metrics,
    "metrics_regression_v0.json": Metrics,
    "metrics_private_v0.json": Metrics,
    "match_v0.json": MatchResult,
    "audit_plain.json": AuditRecord,
    "audit_mitigated.json": AuditRecord,
    "explanations_table.json": ExplanationsRecord,
    "explanations_image.json": ExplanationsRecord,
    "explanations_text.json": ExplanationsRecord,
    "onnx_int8_v0.json": OnnxReport,
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


def test_a_mitigated_audit_loads_with_its_values() -> None:
    record = AuditRecord.read(FIXTURES / "audit_mitigated.json")
    assert record.format_version == AuditRecord.FORMAT
    assert (record.run, record.data) == ("/tmp/h3fix/reweighed", "builtin:german_credit")
    assert record.before.rows == 1000 and record.before.accuracy == 0.731
    sex = record.before.attributes["personal_status_sex"]
    assert sex.demographic_parity_difference == 0.326297335203366
    assert sex.judged.equalized_odds_difference == 0.4855045871559633
    assert sex.min_group_size == 60
    assert sex.groups["male : single"].n == 548
    assert sex.groups["male : single"].ci95["tpr"] == (0.8777456214759742, 0.9343759375937594)
    small = sex.too_small[0]
    assert (small.group, small.n, small.selection_rate.value) == (
        "male : divorced/separated",
        50,
        0.8,
    )
    assert record.baseline is not None and record.baseline.run == "/tmp/h3fix/plain"
    assert record.baseline.training is not None and record.baseline.training.method == "reweigh"
    assert record.baseline.training.cells[0].weight == 0.8484375
    assert record.mitigation is not None and record.mitigation.feasible
    decision = record.mitigation.decision
    assert decision.group_attribute == "personal_status_sex"
    assert decision.group_thresholds["male : single"] == 0.3920938988526662
    assert record.after is not None
    after = record.after.attributes["personal_status_sex"]
    assert after.demographic_parity_difference == 0.0641066328149793


def test_an_audit_without_mitigation_leaves_the_after_parts_out() -> None:
    record = AuditRecord.read(FIXTURES / "audit_plain.json")
    assert list(record.before.attributes) == ["personal_status_sex", "telephone"]
    assert record.before.attributes["telephone"].too_small == []
    assert record.baseline is record.mitigation is record.after is None
    assert set(record.dump()) == {"format_version", "run", "data", "before"}


def test_explanations_load_each_kind_of_feature() -> None:
    table = ExplanationsRecord.read(FIXTURES / "explanations_table.json")
    row = table.rows[1]
    assert (row.row, row.prediction, row.target, row.method) == (
        1,
        "bad",
        0,
        "integrated_gradients",
    )
    duration, status = row.features["duration"], row.features["status"]
    assert isinstance(duration, ValueAttribution) and duration.value is None  # a missing cell
    assert isinstance(status, ValueAttribution) and status.value == "0 <= ... < 200 DM"
    assert table.permutation_importance is not None
    assert table.permutation_importance["status"].mean == 0.04933333333333334

    image = ExplanationsRecord.read(FIXTURES / "explanations_image.json")
    digit = image.rows[0].features["image"]
    assert isinstance(digit, ImageAttribution) and len(digit.map) == len(digit.image) == 28
    assert digit.score == 5.685697555541992 and image.permutation_importance is None

    text = ExplanationsRecord.read(FIXTURES / "explanations_text.json").rows[0]
    words = text.features["text"]
    assert isinstance(words, TextAttribution) and words.tokens[:4] == [
        "i",
        "just",
        "don't",
        "trust",
    ]
    assert words.scores[:2] == [-0.042067, -0.093059] and len(words.scores) == len(words.tokens)


def test_an_onnx_export_report_loads_with_its_values() -> None:
    report = OnnxReport.read(FIXTURES / "onnx_int8_v0.json")
    text = report.inputs[0]
    assert (text.name, text.feature, text.dtype, text.shape) == (
        "text", "text", "int64", ["batch", "text_tokens"],
    )  # fmt: skip
    assert text.pad_id == 0 and report.output.meaning == "logits"
    assert report.parity.rows == 40 and report.parity.max_abs_diff <= report.parity.tolerance
    assert report.int8 is not None and report.int8.file == "model.int8.onnx"
    assert report.int8.change == report.int8.int8 - report.int8.fp32


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


def broken(name: str, change: Any, tmp_path: Path) -> Path:
    """A copy of a fixture with one change made to its JSON."""
    data = json.loads((FIXTURES / name).read_text())
    change(data)
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def test_a_wrong_field_names_the_file_and_the_field(tmp_path: Path) -> None:
    def many(data: dict[str, Any]) -> None:
        data["before"]["attributes"]["telephone"]["groups"]["yes"]["n"] = "many"

    path = broken("audit_plain.json", many, tmp_path)
    with pytest.raises(DataError, match="before.attributes.telephone.groups.yes.n") as err:
        AuditRecord.read(path)
    assert str(path) in str(err.value)

    def typo(data: dict[str, Any]) -> None:
        data["rows"][0]["predicton"] = data["rows"][0].pop("prediction")

    path = broken("explanations_table.json", typo, tmp_path)
    with pytest.raises(DataError, match=r"rows\.0\.prediction, Field required") as err:
        ExplanationsRecord.read(path)
    assert str(path) in str(err.value)

    def high(data: dict[str, Any]) -> None:
        data["rows"][2]["features"]["age"]["score"] = "high"

    path = broken("explanations_table.json", high, tmp_path)
    with pytest.raises(DataError, match=r"rows\.2\.features\.age\.table\.score"):
        ExplanationsRecord.read(path)


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
    with pytest.raises(DataError, match=r"newer than this tailorml reads \(\d+\); upgrade"):
        RECORDS[name].read(path)
