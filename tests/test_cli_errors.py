"""Bad input gets one clear paragraph, exit code 2 and no traceback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

TABLE_CONFIG = """\
data:
  source: {source}
  target: y
  split: {{validation_fraction: 0.0{extra}}}
input_features:
  - {{name: a, type: number}}
  - {{name: b, type: category}}
output_features:
  - {{name: y, type: category}}
training: {{epochs: 1}}
"""


def table_csv(path: Path, rows: int = 40, labels: tuple[str, ...] = ("x", "z")) -> Path:
    lines = ["a,b,y"] + [f"{i},{'pq'[i % 2]},{labels[i % len(labels)]}" for i in range(rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_config(
    tmp_path: Path, source: Path | str, extra: str = "", text: str | None = None
) -> Path:
    config = tmp_path / "config.yaml"
    config.write_text(text or TABLE_CONFIG.format(source=source, extra=extra))
    return config


def assert_user_error(result, *fragments: str) -> None:  # type: ignore[no-untyped-def]
    assert result.returncode == 2, result.stderr + result.stdout
    assert "Traceback" not in result.stderr + result.stdout
    message = " ".join(result.stderr.split())
    for fragment in fragments:
        assert fragment in message, message


def test_misspelt_key(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    text = TABLE_CONFIG.format(source=table_csv(tmp_path / "t.csv"), extra="")
    config = write_config(tmp_path, "", text=text.replace("epochs: 1", "epoch: 1"))
    result = cli("train", str(config), "--output", str(tmp_path / "run"))
    assert_user_error(result, "unknown key 'epoch'", "did you mean 'epochs'?", "line 10")


def test_wrong_type(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    text = TABLE_CONFIG.format(source=table_csv(tmp_path / "t.csv"), extra="")
    config = write_config(tmp_path, "", text=text.replace("epochs: 1", "epochs: many"))
    result = cli("train", str(config), "--output", str(tmp_path / "run"))
    assert_user_error(result, "training.epochs", "'many'", "line 10")


def test_missing_data_file(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    config = write_config(tmp_path, tmp_path / "nowhere.csv")
    result = cli("train", str(config), "--output", str(tmp_path / "run"))
    assert_user_error(result, "nowhere.csv", "does not exist")


def test_ragged_csv_row(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    data = table_csv(tmp_path / "t.csv")
    lines = data.read_text().splitlines()
    lines[7] = lines[7] + ",extra"
    data.write_text("\n".join(lines) + "\n")
    result = cli("train", str(write_config(tmp_path, data)), "--output", str(tmp_path / "run"))
    assert_user_error(result, "line 8")


def test_ragged_row_dropped_when_asked_and_counted(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    data = table_csv(tmp_path / "t.csv")
    lines = data.read_text().splitlines()
    lines[7] = lines[7] + ",extra"
    data.write_text("\n".join(lines) + "\n")
    text = TABLE_CONFIG.format(source=data, extra="").replace(
        "  target: y\n", "  target: y\n  bad_rows: drop\n"
    )
    config = write_config(tmp_path, "", text=text)
    result = cli("train", str(config), "--output", str(tmp_path / "run"), "--quiet")
    assert result.returncode == 0, result.stderr
    import json

    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["data"]["dropped_rows"] == 1
    assert sum(metrics["data"]["rows"].values()) == 39


def test_target_column_missing(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    data = table_csv(tmp_path / "t.csv")
    data.write_text(data.read_text().replace("a,b,y", "a,b,why", 1))
    result = cli("train", str(write_config(tmp_path, data)), "--output", str(tmp_path / "run"))
    assert_user_error(result, "target column 'y' does not exist")


def test_empty_data_set(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "empty.csv"
    data.write_text("a,b,y\n")
    result = cli("train", str(write_config(tmp_path, data)), "--output", str(tmp_path / "run"))
    assert_user_error(result, "no rows")


def test_label_unseen_in_training(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    train = table_csv(tmp_path / "train.csv")
    test = table_csv(tmp_path / "test.csv", rows=10, labels=("x", "z", "w"))
    config = write_config(tmp_path, train, extra=f", test_file: {test}")
    result = cli("train", str(config), "--output", str(tmp_path / "run"))
    assert_user_error(result, "never seen in training", "'w'")


def image_folder(root: Path, odd_size: tuple[int, int] | None = None) -> Path:
    rng = np.random.default_rng(0)
    for label in ("a", "b"):
        (root / label).mkdir(parents=True)
        for i in range(6):
            pixels = rng.integers(0, 255, size=(28, 28), dtype=np.uint8)
            Image.fromarray(pixels).save(root / label / f"{i}.png")
    if odd_size is not None:
        pixels = rng.integers(0, 255, size=odd_size, dtype=np.uint8)
        Image.fromarray(pixels).save(root / "b" / "odd.png")
    return root


IMAGE_CONFIG = """\
data:
  source: {source}
  target: label
  split: {{method: random, test_fraction: 0.25, validation_fraction: 0.0}}
input_features:
  - name: image
    type: image
    preprocessing: {{height: 28, width: 28, channels: 1}}
    encoder: {{name: cnn}}
output_features:
  - {{name: label, type: category}}
training: {{epochs: 1}}
"""


def test_image_of_wrong_size(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    folder = image_folder(tmp_path / "images", odd_size=(32, 30))
    config = write_config(tmp_path, "", text=IMAGE_CONFIG.format(source=folder))
    result = cli("train", str(config), "--output", str(tmp_path / "run"))
    assert_user_error(result, "column 'image'", "32×30", "expected 28×28")


def test_image_folder_trains(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    folder = image_folder(tmp_path / "images")
    config = write_config(tmp_path, "", text=IMAGE_CONFIG.format(source=folder))
    result = cli("train", str(config), "--output", str(tmp_path / "run"), "--quiet")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "run" / "model" / "model.safetensors").exists()


@pytest.mark.parametrize("command", ["evaluate", "predict"])
def test_missing_run_folder(tmp_path: Path, cli, command: str) -> None:  # type: ignore[no-untyped-def]
    result = cli(command, str(tmp_path / "nope"), "--data", "builtin:mnist")
    assert_user_error(result, "does not exist")


def test_reweighing_needs_an_existing_sensitive_column(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    text = TABLE_CONFIG.format(source=table_csv(tmp_path / "t.csv"), extra="")
    text = text.replace("{epochs: 1}", "{epochs: 1, fairness: {sensitive: [bb]}}")
    result = cli(
        "train", str(write_config(tmp_path, "", text=text)), "--output", str(tmp_path / "r")
    )
    assert_user_error(result, "sensitive column 'bb' does not exist", "did you mean 'b'?")


def test_reweighing_and_privacy_together_are_refused(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    text = TABLE_CONFIG.format(source=table_csv(tmp_path / "t.csv"), extra="")
    both = "{epochs: 1, fairness: {sensitive: [b]}, privacy: {epsilon: 1}}"
    text = text.replace("{epochs: 1}", both)
    result = cli(
        "train", str(write_config(tmp_path, "", text=text)), "--output", str(tmp_path / "r")
    )
    assert_user_error(result, "training.privacy and training.fairness cannot be combined")


def test_reweighing_a_regression_is_refused(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    text = TABLE_CONFIG.format(source=table_csv(tmp_path / "t.csv"), extra="")
    text = text.replace("{epochs: 1}", "{epochs: 1, fairness: {sensitive: [b]}}")
    text = text.replace("{name: y, type: category}", "{name: a2, type: number}")
    text = text.replace("target: y", "target: a2")
    config = write_config(tmp_path, "", text=text)
    result = cli("train", str(config), "--output", str(tmp_path / "r"))
    assert_user_error(result, "needs a classification output")
