"""`tailor pii` and the `data.pii` policy applied before training."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

import tailorml

PLANTED = ["jane.doe@example.com", "(212) 555-0187", "4111 1111 1111 1111", "10.0.0.7"]


def feedback_csv(path: Path, rows: int = 120) -> Path:
    texts = []
    for i in range(rows):
        good = i % 2 == 0
        words = "great friendly quick service" if good else "slow rude awful wait"
        texts.append(f"{words} contact {PLANTED[i % 4]} ticket {i}")
    frame = pd.DataFrame(
        {"text": texts, "label": ["pos" if i % 2 == 0 else "neg" for i in range(rows)]}
    )
    frame.to_csv(path, index=False)
    return path


def test_pii_command_redacts_every_planted_value_and_keeps_rows(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    data = feedback_csv(tmp_path / "feedback.csv")
    out = tmp_path / "redacted.csv"
    result = cli("pii", str(data), "--columns", "text", "--redact", str(out))
    assert result.returncode == 0, result.stderr
    redacted = pd.read_csv(out)
    assert len(redacted) == 120 and list(redacted["label"]) == list(pd.read_csv(data)["label"])
    text = " ".join(redacted["text"])
    assert not any(value in text for value in PLANTED)
    assert "EMAIL_ADDRESS" in result.stdout and "CREDIT_CARD" in result.stdout


def config(data: Path, policy: str) -> dict[str, object]:
    return {
        "data": {"source": str(data), "target": "label", "pii": policy},
        "input_features": [{"name": "text", "type": "text", "encoder": {"name": "rnn"}}],
        "output_features": [{"name": "label", "type": "category"}],
        "training": {"epochs": 2},
    }


def test_training_with_redaction_never_sees_the_personal_data(tmp_path: Path) -> None:
    data = feedback_csv(tmp_path / "feedback.csv")
    run = tailorml.train(config(data, "redact"), tmp_path / "run", quiet=True)
    vocab = run.bundle.features.inputs[0].state["vocab"]
    assert "jane" not in vocab and "555" not in vocab and "4111" not in vocab
    assert "email_address" in vocab  # the placeholder, lower-cased by the tokenizer
    preds = run.predict(data)
    assert len(preds) == 120


def test_fail_policy_stops_training_with_a_clear_error(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    data = feedback_csv(tmp_path / "feedback.csv")
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config(data, "fail")))
    result = cli("train", str(path), "--output", str(tmp_path / "run"))
    assert result.returncode == 2
    assert "personal data" in result.stderr and "text" in result.stderr
    assert "Traceback" not in result.stderr


def test_drop_column_refuses_to_drop_an_input(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    data = feedback_csv(tmp_path / "feedback.csv")
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config(data, "drop_column")))
    result = cli("train", str(path), "--output", str(tmp_path / "run"))
    assert result.returncode == 2
    assert "drop_column" in result.stderr and "Traceback" not in result.stderr
