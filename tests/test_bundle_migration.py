"""Saved bundles keep working: every committed fixture format loads and predicts
what it predicted when written; newer, older and broken bundles fail clearly."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tailorml.errors import TailorError
from tailorml.runs import bundle as bundle_module
from tailorml.runs.bundle import FORMAT_VERSION, MIGRATIONS, load_bundle
from tailorml.runs.run import Run

FIXTURES = Path(__file__).resolve().parent / "fixtures"
PICKLE_SUFFIXES = {".pkl", ".pickle", ".joblib", ".pt", ".pth", ".npy"}


def fixture_bundles() -> list[Any]:
    """Every bundle of every committed format version."""
    return [
        pytest.param(folder, id=f"{folder.parent.name}-{folder.name}")
        for version in sorted(FIXTURES.glob("bundle_v*"))
        for folder in sorted(p for p in version.iterdir() if (p / "model.json").is_file())
    ]


def copy_of(tmp_path: Path, name: str = "deep") -> Path:
    folder = tmp_path / name
    shutil.copytree(FIXTURES / f"bundle_v{FORMAT_VERSION}" / name, folder)
    return folder


def edit_manifest(folder: Path, **changes: Any) -> None:
    manifest = json.loads((folder / "model.json").read_text())
    (folder / "model.json").write_text(json.dumps({**manifest, **changes}))


def test_the_current_format_has_a_fixture() -> None:
    assert (FIXTURES / f"bundle_v{FORMAT_VERSION}" / "deep" / "model.json").is_file()


@pytest.mark.parametrize("folder", fixture_bundles())
def test_fixture_bundle_predicts_what_it_did_when_written(folder: Path) -> None:
    rows = pd.DataFrame(json.loads((folder.parent / "rows.json").read_text()))
    expected = json.loads((folder.parent / "expected.json").read_text())[folder.name]
    predicted = Run(load_bundle(folder)).predict(rows)
    assert sorted(expected) == sorted(c for c in predicted if c.startswith("probability_"))
    for column, values in expected.items():
        np.testing.assert_allclose(predicted[column], values, atol=1e-5, err_msg=column)


@pytest.mark.parametrize("folder", fixture_bundles())
def test_fixture_bundle_holds_no_pickle(folder: Path) -> None:
    suffixes = {p.suffix for p in folder.rglob("*")}
    assert not suffixes & PICKLE_SUFFIXES
    assert (folder / "model.json").stat().st_size < 50_000  # a fixture stays small


def test_a_newer_format_asks_to_upgrade(tmp_path: Path) -> None:
    folder = copy_of(tmp_path)
    edit_manifest(folder, format_version=FORMAT_VERSION + 1)
    with pytest.raises(TailorError, match=f"format_version {FORMAT_VERSION + 1}.*Upgrade"):
        load_bundle(folder)


@pytest.mark.parametrize("version", ["1", -1, None])
def test_an_invalid_format_version_is_named(tmp_path: Path, version: Any) -> None:
    folder = copy_of(tmp_path)
    edit_manifest(folder, format_version=version)
    with pytest.raises(TailorError, match="invalid format_version"):
        load_bundle(folder)


def test_an_older_format_runs_its_migrations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fake version 0 that kept the decoder under another key, and its migration."""
    folder = copy_of(tmp_path)
    manifest = json.loads((folder / "model.json").read_text())
    config = manifest.pop("config")
    config["head"] = config.pop("decoder")
    (folder / "model.json").write_text(json.dumps({**manifest, "format_version": 0,
                                                   "network": config}))  # fmt: skip
    with pytest.raises(TailorError, match="format_version 0, which this tailorml cannot convert"):
        load_bundle(folder)

    seen: list[int] = []

    def from_v0(old: dict[str, Any]) -> dict[str, Any]:
        seen.append(old["format_version"])
        new = dict(old)
        network = dict(new.pop("network"))
        network["decoder"] = network.pop("head")
        return {**new, "config": network}

    steps = {0: from_v0} | {v: lambda m: m for v in range(1, FORMAT_VERSION)}
    monkeypatch.setattr(bundle_module, "MIGRATIONS", steps)
    migrated = load_bundle(folder)
    assert seen == [0]
    current = FIXTURES / f"bundle_v{FORMAT_VERSION}"
    reference = load_bundle(current / "deep")
    assert migrated.config == reference.config
    rows = pd.DataFrame(json.loads((current / "rows.json").read_text()))
    pd.testing.assert_frame_equal(Run(migrated).predict(rows), Run(reference).predict(rows))


def test_no_migration_is_registered_past_the_current_format() -> None:
    assert all(0 <= version < FORMAT_VERSION for version in MIGRATIONS)


@pytest.mark.parametrize(("name", "weights"), [("deep", "model.safetensors"),
                                               ("linear", "linear.safetensors")])  # fmt: skip
def test_a_missing_weights_file_is_named(tmp_path: Path, name: str, weights: str) -> None:
    folder = copy_of(tmp_path, name)
    (folder / weights).unlink()
    with pytest.raises(TailorError, match=f"incomplete: .*needs '{weights}', which is missing"):
        load_bundle(folder)


def test_a_folder_without_manifest_is_not_a_bundle(tmp_path: Path) -> None:
    with pytest.raises(TailorError, match="not a tailorml model bundle"):
        load_bundle(tmp_path)
