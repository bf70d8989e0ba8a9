"""MODEL_CARD.md: the nine sections, figures equal to the run's files, the
audit's groups, privacy, a match's operation figures, no placeholders."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

import tailorml
from tailorml.audit.fairness import audit, mitigate
from tailorml.errors import TailorError
from tailorml.features.splits import read_splits
from tailorml.pipelines import match
from tailorml.records.audit import AuditRecord
from tailorml.report.audit import write_audit
from tailorml.report.card import CARD_NAME, render_model_card, write_model_card
from tailorml.report.html import format_value
from tailorml.report.match import format_number
from tailorml.runs.bundle import save_bundle

SECTIONS = [
    "Model details",
    "Intended use",
    "Factors",
    "Metrics",
    "Evaluation data",
    "Training data",
    "Quantitative analyses",
    "Ethical considerations",
    "Caveats and recommendations",
]
PLACEHOLDERS = re.compile(r"TBD|TODO|N/A|\[insert|\bNone\b|\bnan\b|\bnull\b", re.IGNORECASE)
FEATURES = {
    "status": "category",
    "duration": "number",
    "credit_amount": "number",
    "age": "number",
    "personal_status_sex": "category",
}


def credit_config(**training: Any) -> dict[str, Any]:
    """German credit on five columns: a couple of seconds on two cores."""
    return {
        "data": {
            "source": "builtin:german_credit",
            "target": "credit_risk",
            "split": {"validation_fraction": 0.3},  # enough rows to tune group thresholds on
        },
        "input_features": [{"name": n, "type": t} for n, t in FEATURES.items()],
        "decoder": {"hidden": [16]},
        "output_features": [{"name": "credit_risk", "type": "binary", "positive": "good"}],
        "training": {"epochs": 3, "batch_size": 64, "learning_rate": 0.01, "seed": 0, **training},
    }


@pytest.fixture(scope="module")
def plain_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("card") / "plain"
    tailorml.train(credit_config(), folder, quiet=True)
    write_model_card(folder)
    return folder


@pytest.fixture(scope="module")
def audited_run(plain_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The plain run audited on its test split and mitigated, as `tailor audit` does."""
    folder = tmp_path_factory.mktemp("card") / "audited"
    shutil.copytree(plain_run, folder)
    run = tailorml.load(folder)
    frames, _ = read_splits(run.config)
    sensitive = ["personal_status_sex"]
    result = AuditRecord(run=str(folder), data="builtin:german_credit",
                         before=audit(run, frames["test"], sensitive))  # fmt: skip
    result.mitigation = mitigate(
        run, frames["validation"], sensitive[0], "demographic_parity_difference", 0.05
    )
    result.after = audit(run, frames["test"], sensitive)
    save_bundle(run.bundle, folder / "mitigated")
    write_audit(folder, result)
    write_model_card(folder)
    return folder


@pytest.fixture(scope="module")
def private_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("card") / "private"
    tailorml.train(credit_config(privacy={"epsilon": 4}), folder, quiet=True)
    write_model_card(folder)
    return folder


@pytest.fixture(scope="module")
def matched(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """A match under 60 s of budget: linear models and trees only, a few seconds."""
    folder = tmp_path_factory.mktemp("card")
    scenario = {
        "name": "loans",
        "domain": "finance",
        "task": "classification",
        "data": {"source": "builtin:german_credit", "target": "credit_risk",
                 "split": {"method": "stratified", "test_fraction": 0.25,
                           "validation_fraction": 0.25}},
        "sensitive": ["personal_status_sex"],
        "budget": {"seconds": 30},
        "constraints": {"fairness": [{"attribute": "personal_status_sex", "max": 0.2}]},
        "value": {"positive": "bad", "true_positive": 0, "false_negative": -5,
                  "false_positive": -1, "true_negative": 0},
        "decisions": {"group_thresholds": True},
    }  # fmt: skip
    path = folder / "loans.yaml"
    path.write_text(yaml.safe_dump(scenario))
    result = match(path, folder / "match", quiet=True).dump()  # as match.json holds it
    assert result["recommended"] is not None, result["reasoning"]
    write_model_card(folder / "match" / "recommended", result)
    return folder / "match" / "recommended", result


def card(folder: Path) -> str:
    return (folder / CARD_NAME).read_text(encoding="utf-8")


def table_row(text: str, first_cell: str) -> list[str]:
    """The cells of the first Markdown table row whose first cell is ``first_cell``."""
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if line.startswith("|") and cells[0] == first_cell:
            return cells
    raise AssertionError(f"no table row starting with {first_cell!r}")


# ---------------------------------------------------------------- tests


def test_card_has_the_nine_sections_in_order(plain_run: Path) -> None:
    headings = re.findall(r"^## (.+)$", card(plain_run), flags=re.MULTILINE)
    assert headings == SECTIONS


def test_quality_figures_equal_metrics_json(plain_run: Path) -> None:
    metrics = json.loads((plain_run / "metrics.json").read_text())
    text = card(plain_run)
    for name in ("accuracy", "f1_macro", "roc_auc", "n"):
        assert table_row(text, name)[1:] == [
            format_value(metrics["validation"][name]),
            format_value(metrics["test"][name]),
        ]
    ci = metrics["test"]["ci95"]
    expected = f"[{format_value(ci['low'])}, {format_value(ci['high'])}]"
    assert table_row(text, "accuracy 95% CI")[2] == expected
    assert f"Test: {metrics['data']['rows']['test']:,} rows." in text
    assert f"{metrics['data']['rows']['train']:,} training rows" in text


def test_unaudited_binary_card_gives_the_exact_audit_command(plain_run: Path) -> None:
    text = card(plain_run)
    command = (
        f"`tailor audit {plain_run} --data builtin:german_credit --sensitive personal_status_sex`"
    )
    assert "it has not been audited" in text
    assert command in text
    assert "Trained without differential privacy" in text


def test_audited_card_lists_every_group_with_its_n(audited_run: Path) -> None:
    result = json.loads((audited_run / "audit.json").read_text())
    text = card(audited_run)
    before = result["before"]["attributes"]["personal_status_sex"]
    for group, stats in before["groups"].items():
        row = table_row(text, group)
        assert row[1] == format_value(stats["n"])
        assert row[2].startswith(format_value(stats["selection_rate"]))
        if stats["n"] < 100:
            assert f"`{group}` (audit): only {stats['n']} rows" in text
    gap = before["demographic_parity_difference"]
    after = result["after"]["attributes"]["personal_status_sex"]["demographic_parity_difference"]
    assert table_row(text, "demographic_parity_difference")[2:] == [
        format_value(gap),
        format_value(after),
    ]
    assert "**Before and after mitigation**" in text
    assert "`mitigated/` decides with per-group thresholds on `personal_status_sex`" in text


def test_an_unmitigated_gap_comes_with_the_command_that_narrows_it(
    audited_run: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "run"
    shutil.copytree(audited_run, folder)
    shutil.rmtree(folder / "mitigated")
    result = json.loads((folder / "audit.json").read_text())
    before = result["before"]
    before["attributes"]["personal_status_sex"]["demographic_parity_difference"] = 0.3
    (folder / "audit.json").write_text(json.dumps({"run": str(folder), "data": "x.csv",
                                                   "before": before}))  # fmt: skip
    write_model_card(folder)
    text = card(folder)
    assert "demographic_parity_difference on `personal_status_sex` is 0.3000 (audit)" in text
    command = f"tailor audit {folder} --data x.csv --sensitive personal_status_sex"
    assert f"`{command} --mitigate demographic_parity` tunes per-group thresholds" in text
    assert "Before and after mitigation" not in text


def test_private_card_reports_the_epsilon_spent(private_run: Path) -> None:
    privacy = json.loads((private_run / "metrics.json").read_text())["privacy"]
    text = card(private_run)
    assert table_row(text, "ε spent")[1] == format_number(privacy["epsilon"])
    assert f"ε {format_number(privacy['epsilon'])} spent at δ 1e-05" in text
    assert "Trained with differential privacy (DP-SGD)" in text


def test_match_card_reports_cost_latency_and_the_scenario(
    matched: tuple[Path, dict[str, Any]],
) -> None:
    folder, result = matched
    chosen = next(c for c in result["candidates"] if c["name"] == result["recommended"])
    metrics = chosen["metrics"]
    text = card(folder)
    assert text.startswith(f"# Model card: {result['recommended']}, recommended for `loans`")
    assert table_row(text, "cost per 1k predictions")[1] == format_number(metrics["cost_per_1k"])
    assert table_row(text, "latency p95 (ms)")[1] == format_number(metrics["latency_p95_ms"])
    assert table_row(text, "size (MB)")[1] == format_number(metrics["size_mb"])
    test_accuracy = format_value(result["test"]["metrics"]["accuracy"])
    assert table_row(text, "accuracy")[2] == test_accuracy
    assert "`tailor match` scenario `loans`, domain `finance`." in text
    for group, stats in result["test"]["fairness"]["personal_status_sex"]["groups"].items():
        assert table_row(text, group)[1] == format_value(stats["n"])
    # later commands on recommended/ (audit, explain) pass no match: ../match.json is read
    assert render_model_card(folder) == text


@pytest.mark.parametrize("name", ["plain_run", "audited_run", "private_run", "matched"])
def test_cards_hold_no_placeholder_words(name: str, request: pytest.FixtureRequest) -> None:
    found = request.getfixturevalue(name)
    folder = found[0] if isinstance(found, tuple) else found
    text = card(folder)
    assert PLACEHOLDERS.findall(text) == []
    assert re.findall(r"^## ", text, flags=re.MULTILINE) == ["## "] * len(SECTIONS)


def test_a_folder_without_a_bundle_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(TailorError, match="no model bundle"):
        write_model_card(tmp_path)


def test_an_audit_older_than_the_bundle_is_left_out(audited_run: Path, tmp_path: Path) -> None:
    """Training again into an audited folder leaves the old audit.json behind."""
    folder = tmp_path / "run"
    shutil.copytree(audited_run, folder)
    written = (folder / "model" / "model.json").stat().st_mtime
    for name in ("audit.json", "mitigated/model.json"):
        os.utime(folder / name, (written - 60, written - 60))
    write_model_card(folder)
    text = card(folder)
    assert "`audit.json`, `mitigated/model.json` are older than the bundle" in text
    assert "(audit)" not in text
    assert "it has not been audited" in text
