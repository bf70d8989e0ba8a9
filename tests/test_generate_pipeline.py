"""Text outputs end to end: config → tailor train / generate / predict / evaluate /
match, bad input, determinism, redaction of generated personal data."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import tailorml
from tailorml.cli import app
from tailorml.errors import ConfigError, TailorError
from tailorml.pipelines import train_generator
from tailorml.runs.generation import load_generation

runner = CliRunner()
WORDS = ["red", "green", "blue", "black", "white", "small", "big", "old", "new", "fast"]
SMALL = (
    "{name: seq2seq, width: 32, num_heads: 2, encoder_layers: 1, decoder_layers: 1, "
    "vocab_size: 300}"
)


def write_pairs(path: Path, n: int = 120, seed: int = 0) -> Path:
    rng = random.Random(seed)
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["question", "answer"])
        for _ in range(n):
            words = [rng.choice(WORDS) for _ in range(rng.randint(2, 5))]
            writer.writerow([" ".join(words), " ".join(reversed(words))])
    return path


def write_config(folder: Path, generator: str = SMALL, extra: str = "") -> Path:
    write_pairs(folder / "pairs.csv")
    file = folder / "gen.yaml"
    file.write_text(
        f"data: {{source: {folder / 'pairs.csv'}}}\n"
        "input_features: [{name: question, type: text}]\n"
        "output_features: [{name: answer, type: text}]\n"
        f"generator: {generator}\n"
        "training: {epochs: 3, batch_size: 16, learning_rate: 0.003}\n" + extra
    )
    return file


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("gen")
    result = runner.invoke(app, ["train", str(write_config(folder)), "-o", str(folder / "run"),
                                 "-q"])  # fmt: skip
    assert result.exit_code == 0, result.output
    shown = " ".join(result.output.split())  # rich wraps lines at the terminal's width
    assert "chrf" in shown and "ms per token" in shown
    return folder / "run"


def test_run_folder_holds_model_metrics_and_samples(trained: Path) -> None:
    for name in ("config.yaml", "model/model.json", "model/seq2seq.safetensors",
                 "metrics.json", "history.csv", "samples.csv"):  # fmt: skip
        assert (trained / name).is_file(), name
    metrics = json.loads((trained / "metrics.json").read_text())
    assert metrics["task"] == "generation"
    for key in ("chrf", "bleu", "exact_match", "perplexity", "tokens_per_s"):
        assert metrics["test"][key] is not None, key
    assert 0 <= metrics["test"]["chrf"] <= 100
    assert (
        metrics["test"]["ci95"]["low"] <= metrics["test"]["chrf"] <= metrics["test"]["ci95"]["high"]
    )
    assert metrics["generation"]["truncated_targets"] == 0
    assert metrics["generation"]["latency"]["p95_ms"] > 0
    samples = pd.read_csv(trained / "samples.csv")
    assert list(samples.columns) == ["input", "reference", "generated"]
    assert len(samples) == metrics["data"]["rows"]["test"]


def test_same_config_and_seed_give_the_same_metrics(trained: Path, tmp_path: Path) -> None:
    again = train_generator(trained / "config.yaml", tmp_path / "again", quiet=True)
    first = json.loads((trained / "metrics.json").read_text())["test"]
    assert again.metrics.test is not None
    for key in ("chrf", "bleu", "perplexity"):
        assert again.metrics.test[key] == pytest.approx(first[key], abs=1e-9), key


def test_generate_predict_and_evaluate_commands(trained: Path, tmp_path: Path) -> None:
    run = load_generation(trained)
    expected = run.generate(["red green blue"])[0].text
    shown = runner.invoke(app, ["generate", str(trained), "red green blue"])
    assert shown.exit_code == 0 and shown.output.strip() == expected.strip()
    streamed = runner.invoke(app, ["generate", str(trained), "red green blue", "--stream"])
    assert streamed.exit_code == 0 and streamed.output.strip() == expected.strip()
    drawn = [runner.invoke(app, ["generate", str(trained), "red green", "--strategy", "sample",
                                 "--seed", "3"]).output for _ in range(2)]  # fmt: skip
    assert drawn[0] == drawn[1]
    beam = runner.invoke(app, ["generate", str(trained), "red", "--strategy", "beam"])
    assert beam.exit_code == 0
    with pytest.raises(TailorError, match="greedy, beam or sample"):
        runner.invoke(app, ["generate", str(trained), "red", "--strategy", "best"],
                      catch_exceptions=False)  # fmt: skip
    out = tmp_path / "p.csv"
    data = str(trained.parent / "pairs.csv")
    predicted = runner.invoke(app, ["predict", str(trained), "--data", data, "--output", str(out)])
    assert predicted.exit_code == 0, predicted.output
    frame = pd.read_csv(out, keep_default_na=False)
    assert len(frame) == 120 and list(frame.columns) == ["prediction", "tokens", "source_truncated"]
    scored = runner.invoke(app, ["evaluate", str(trained), "--data", data])
    assert scored.exit_code == 0 and "chrf" in scored.output


def test_empty_target_text_names_the_file_row(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    config = write_config(tmp_path)
    rows = (tmp_path / "pairs.csv").read_text().splitlines()
    rows[5] = rows[5].split(",")[0] + ","  # data row 5: the answer is empty
    (tmp_path / "pairs.csv").write_text("\n".join(rows) + "\n")
    result = cli("train", str(config), "-o", str(tmp_path / "run"))
    assert result.returncode == 2
    assert "column 'answer': empty text in row(s) 5;" in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr


def test_overlong_targets_refused_when_asked(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    extra = "generation: {max_target_tokens: 2, overlong: refuse}\n"
    config = write_config(tmp_path, "{name: copy}", extra)
    result = cli("train", str(config), "-o", str(tmp_path / "run"))
    assert result.returncode == 2
    shown = " ".join(result.stderr.split())
    assert "longer than 2 tokens" in shown and "overlong: truncate" in shown


def test_overlong_targets_cut_and_counted_by_default(tmp_path: Path) -> None:
    config = write_config(tmp_path, "{name: copy}", "generation: {max_target_tokens: 2}\n")
    run = train_generator(config, tmp_path / "run", quiet=True)
    assert run.metrics.generation is not None
    train = pd.read_csv(tmp_path / "pairs.csv").iloc[: run.metrics.data.rows["train"]]  # type: ignore[union-attr]
    assert run.metrics.generation.truncated_targets > 0
    assert run.metrics.generation.truncated_targets <= len(train)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("input_features: [{name: q, type: number}]\noutput_features: [{name: a, type: text}]\n",
         "generated from exactly one text input"),
        ("input_features: [{name: q, type: text}]\noutput_features: [{name: a, type: category}]\n"
         "generator: {name: copy}\n", "a generator writes text"),
        ("input_features: [{name: q, type: text}]\noutput_features: [{name: a, type: text}]\n"
         "generator: {name: seq2sec}\n", "unknown generator 'seq2sec'"),
    ],
)  # fmt: skip
def test_bad_generation_configs_are_refused(tmp_path: Path, body: str, message: str, cli) -> None:  # type: ignore[no-untyped-def]
    file = tmp_path / "bad.yaml"
    file.write_text("data: {source: x.csv}\n" + body)
    result = cli("train", str(file), "-o", str(tmp_path / "run"))
    assert result.returncode == 2 and message in " ".join(result.stderr.split()), result.stderr


def test_python_train_points_to_train_generator(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="train_generator"):
        tailorml.train(write_config(tmp_path))


def test_generated_personal_data_is_redacted(tmp_path: Path) -> None:
    write_pairs(tmp_path / "pairs.csv")
    config = write_config(tmp_path, "{name: copy}", "generation: {output_pii: redact}\n")
    run = train_generator(config, tmp_path / "run", quiet=True)
    text = "write to jane.doe@example.com today"
    assert "<EMAIL_ADDRESS>" in run.generate([text])[0].text
    assert "jane.doe" not in "".join(run.stream(text))
    plain = load_generation(tmp_path / "run")
    assert "jane.doe" not in plain.predict(pd.DataFrame({"question": [text]}))["prediction"][0]


def test_match_on_a_generation_scenario(tmp_path: Path) -> None:
    write_pairs(tmp_path / "pairs.csv", n=150)
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        "name: reverse\ntask: generation\n"
        f"data: {{source: {tmp_path / 'pairs.csv'}, target: answer}}\n"
        "input_features: [{name: question, type: text}]\nbudget: {seconds: 30}\n"
        "constraints: {quality: {metric: chrf, min: 10}, max_latency_p95_ms: 1000}\n"
    )
    result = runner.invoke(app, ["match", str(scenario), "-o", str(tmp_path / "m"), "-q"])
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "m" / "match.json").read_text())
    names = [c["name"] for c in record["candidates"]]
    assert names[:2] == ["copy", "retrieval"]
    best = max(record["candidates"], key=lambda c: c["metrics"]["quality"]["value"])
    assert record["recommended"] == best["name"]
    assert all(check["pass"] for check in record["test"]["constraints"].values())
    assert (tmp_path / "m" / "recommended" / "model" / "model.json").is_file()
    shown = load_generation(tmp_path / "m" / "recommended")
    assert shown.generate(["red blue"])[0].text


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("task: generation\nconstraints: {quality: {metric: accuracy, min: 0.5}}\n",
         "quality metric 'accuracy' does not fit a generation task"),
        ("task: classification\nconstraints: {quality: {metric: chrf, min: 30}}\n",
         "quality metric 'chrf' does not fit a classification task"),
        ("task: generation\nconstraints: {quality: {metric: chrf, min: 130}}\n",
         "between 0 and 100"),
    ],
)  # fmt: skip
def test_generation_scenarios_are_checked(tmp_path: Path, body: str, message: str) -> None:
    from tailorml.config import Scenario, load_config

    file = tmp_path / "s.yaml"
    file.write_text(
        "name: s\ndata: {source: x.csv, target: b}\ninput_features: [{name: a, type: text}]\n"
        + body
    )
    with pytest.raises(ConfigError, match=message):
        load_config(file, Scenario)


@pytest.mark.parametrize(
    ("example", "generator"),
    [("django_fr_seq2seq.yaml", "seq2seq"), ("django_fr_smollm2_lora.yaml", "causal_lm")],
)
def test_shipped_generation_examples_validate(example: str, generator: str) -> None:
    from tailorml.config import load_config

    config = load_config(Path(__file__).resolve().parents[1] / "examples" / example)
    assert config.output.type == "text" and config.generator is not None
    assert config.generator.name == generator
    assert config.data.source == "builtin:django_fr"
