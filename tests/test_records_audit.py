"""audit.json and explanations.json as typed records: files written before records
were versioned still load with their values, a record round-trips to the same JSON,
and a field that does not fit is an error naming the file and the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tailorml.errors import DataError
from tailorml.records import AuditRecord, ExplanationsRecord
from tailorml.records.explanations import ImageAttribution, TextAttribution, ValueAttribution

# written by `tailor audit` / `tailor explain` before records were versioned (version 0)
FIXTURES = Path(__file__).parent / "fixtures" / "records"
RECORDS = {
    "audit_plain.json": AuditRecord,
    "audit_mitigated.json": AuditRecord,
    "explanations_table.json": ExplanationsRecord,
    "explanations_image.json": ExplanationsRecord,
    "explanations_text.json": ExplanationsRecord,
}


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


@pytest.mark.parametrize("name", sorted(RECORDS))
def test_a_record_round_trips_to_the_same_json(name: str, tmp_path: Path) -> None:
    kind = RECORDS[name]
    record = kind.read(FIXTURES / name)
    record.write(tmp_path / name)
    written = json.loads((tmp_path / name).read_text())
    assert written == {"format_version": kind.FORMAT, **json.loads((FIXTURES / name).read_text())}
    assert kind.read(tmp_path / name) == record


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


def test_a_newer_record_asks_for_an_upgrade(tmp_path: Path) -> None:
    path = broken("audit_plain.json", lambda data: data.update(format_version=99), tmp_path)
    with pytest.raises(DataError, match="upgrade tailorml"):
        AuditRecord.read(path)
