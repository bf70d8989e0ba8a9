"""The other commands: init, schema, data list, train's printed summary."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tailorml.config import load_config


def test_init_infers_types_and_writes_a_valid_config(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "table.csv"
    rows = ["age,city,member,review,label"]
    words = "great service but the parking was terrible and slow"
    for i in range(60):
        review = " ".join(words.split()[i % 5 :] + [str(i)])
        rows.append(f"{20 + i},{'abc'[i % 3]},{'yes' if i % 2 else 'no'},{review},{'xyz'[i % 3]}")
    data.write_text("\n".join(rows) + "\n")
    out = tmp_path / "config.yaml"
    result = cli("init", str(data), "--target", "label", "--output", str(out))
    assert result.returncode == 0, result.stderr
    config = load_config(out)
    types = {f.name: f.type for f in config.input_features}
    assert types == {"age": "number", "city": "category", "member": "binary", "review": "text"}
    assert config.output.type == "category"
    trained = cli("train", str(out), "--output", str(tmp_path / "run"), "--quiet")
    assert trained.returncode == 0, trained.stderr


def test_init_unknown_target_suggests_column(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "t.csv"
    data.write_text("a,label\n1,x\n2,y\n")
    result = cli("init", str(data), "--target", "lable")
    assert result.returncode == 2
    assert "did you mean 'label'?" in result.stderr
    assert "Traceback" not in result.stderr


def test_schema_model_prints_json_schema(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("schema", "model")
    assert result.returncode == 0, result.stderr
    schema = json.loads(result.stdout)
    assert "input_features" in schema["properties"]
    assert "CNNOptions" in schema["$defs"]


def test_data_list_names_every_builtin(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("data", "list")
    assert result.returncode == 0
    for name in ("mnist", "adult", "german_credit", "sentiment"):
        assert f"builtin:{name}" in result.stdout


def test_train_prints_test_accuracy(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    config = {
        "data": {"source": "builtin:german_credit", "target": "credit_risk"},
        "input_features": [
            {"name": "duration", "type": "number"},
            {"name": "credit_amount", "type": "number"},
            {"name": "status", "type": "category"},
            {"name": "credit_history", "type": "category"},
        ],
        "output_features": [{"name": "credit_risk", "type": "binary", "positive": "bad"}],
        "training": {"epochs": 3},
    }
    path = tmp_path / "german.yaml"
    path.write_text(yaml.safe_dump(config))
    result = cli("train", str(path), "--output", str(tmp_path / "run"), "--quiet")
    assert result.returncode == 0, result.stderr
    assert "test" in result.stdout and "accuracy" in result.stdout
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["labels"] == ["good", "bad"]
    assert metrics["data"]["rows"]["test"] == 200


def test_data_fetch_adult_from_a_local_mirror(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    import gzip

    from tailorml.data import builtin

    mirror = tmp_path / "mirror" / "adult"
    mirror.mkdir(parents=True)
    files = Path(builtin.__file__).parent / "files"
    for name in ("adult.data", "adult.test"):
        (mirror / name).write_bytes(gzip.decompress((files / f"{name}.gz").read_bytes()))
    env = {
        "TAILORML_DATA_MIRROR": (tmp_path / "mirror").as_uri(),
        "TAILORML_CACHE": str(tmp_path / "cache"),
    }
    result = cli("data", "fetch", "adult", env=env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "cache" / "adult" / "adult.data").is_file()
    (mirror / "adult.test").write_bytes(b"tampered")
    (tmp_path / "cache" / "adult" / "adult.test").unlink()
    result = cli("data", "fetch", "adult", env=env)
    assert result.returncode == 2
    assert "SHA-256" in result.stderr or "sha256" in result.stderr.lower()
    assert "Traceback" not in result.stderr
