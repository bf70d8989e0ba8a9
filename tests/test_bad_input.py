"""Bad input never ends in an internal error (issue 13).

One table of bad inputs to every command: each case builds the files it needs,
runs the real ``tailor`` entry point in this process and expects exit code 2,
no traceback, no "internal error", and a message naming the file, field or row.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

import tailorml
from tailorml import cli
from tailorml.data.readers import read_source
from tailorml.errors import DataError, TailorError
from tailorml.models.classical import CLASSICAL
from tailorml.runs.bundle import Bundle, load_bundle, save_bundle

ROWS = [f"{i},{'pq'[i % 2]},{'xz'[i % 2]}" for i in range(1, 13)]  # a,b,y; data rows 1-12

CONFIG = """\
data:
  source: SOURCE
  target: y
  split: {validation_fraction: 0.2}
input_features:
  - {name: a, type: number}
  - {name: b, type: category}
output_features:
  - {name: y, type: category}
decoder: {hidden: [4]}
training: {epochs: 1, batch_size: 4}
"""

SCENARIO = """\
name: tiny
task: classification
data:
  source: SOURCE
  target: y
  split: {validation_fraction: 0.3}
budget: {seconds: 10, max_trials: 1}
constraints:
  quality: {metric: accuracy, min: 0.5}
"""


# ---------------------------------------------------------------- files the cases build


def table(
    tmp: Path, name: str = "t.csv", rows: list[str] | None = None, header: str = "a,b,y"
) -> str:
    """A CSV with the given data rows (default: the 12 good ones)."""
    path = tmp / name
    path.write_text("\n".join([header, *(ROWS if rows is None else rows)]) + "\n")
    return str(path)


def edited_rows(**changes: str) -> list[str]:
    """The good rows with some replaced: ``r3="inf,p,x"`` sets data row 3."""
    rows = list(ROWS)
    for key, row in changes.items():
        rows[int(key[1:]) - 1] = row
    return rows


def config(tmp: Path, *edits: tuple[str, str], source: str | None = None) -> str:
    """The model config with text replacements, reading ``source`` (default: good rows)."""
    text = CONFIG.replace("SOURCE", source or table(tmp))
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    path = tmp / "config.yaml"
    path.write_text(text)
    return str(path)


def scenario(tmp: Path, *edits: tuple[str, str]) -> str:
    text = SCENARIO.replace("SOURCE", table(tmp))
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    path = tmp / "scenario.yaml"
    path.write_text(text)
    return str(path)


def regression(tmp: Path, quality: str) -> str:
    return scenario(
        tmp,
        ("task: classification", "task: regression"),
        ("{metric: accuracy, min: 0.5}", quality),
    )


def latin1_table(tmp: Path, rows: list[str]) -> str:
    """A CSV saved as latin-1, read as the default utf-8."""
    return raw_file(tmp, "u.csv", "\n".join(["a,b,y", *rows, ""]).encode("latin-1"))


def raw_file(tmp: Path, name: str, content: bytes) -> str:
    path = tmp / name
    path.write_bytes(content)
    return str(path)


def copy_run(run: Path, tmp: Path) -> Path:
    """A copy of the trained run, to break."""
    copy = tmp / "run"
    shutil.copytree(run, copy)
    return copy


def manifest_edit(run: Path, tmp: Path, edit: Callable[[dict[str, Any]], None]) -> str:
    """A copy of the run whose model.json was edited."""
    copy = copy_run(run, tmp)
    path = copy / "model" / "model.json"
    manifest = json.loads(path.read_text())
    edit(manifest)
    path.write_text(json.dumps(manifest))
    return str(copy)


def file_edit(run: Path, tmp: Path, name: str, content: Callable[[bytes], bytes]) -> str:
    """A copy of the run with one file's bytes replaced."""
    copy = copy_run(run, tmp)
    path = copy / name
    path.write_bytes(content(path.read_bytes()))
    return str(copy)


def truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


def random_bytes(data: bytes) -> bytes:
    return bytes((i * 197 + 89) % 256 for i in range(max(64, len(data))))


def set_hidden(manifest: dict[str, Any]) -> None:
    manifest["config"]["decoder"]["hidden"] = [8]


def add_category(manifest: dict[str, Any]) -> None:
    manifest["features"]["inputs"][1]["state"]["vocab"].append("r")


def bad_epochs(manifest: dict[str, Any]) -> None:
    manifest["config"]["training"]["epochs"] = "ten"


def no_features(manifest: dict[str, Any]) -> None:
    del manifest["features"]


# ---------------------------------------------------------------- the table


Build = Callable[[Path, Path], list[str]]  # (tmp folder, trained run) -> argv


@dataclass(frozen=True)
class Case:
    id: str
    build: Build
    expect: tuple[str, ...]  # fragments the message must contain


def predict(data: Callable[[Path], str]) -> Build:
    return lambda tmp, run: [
        "predict",
        str(run),
        "--data",
        data(tmp),
        "--output",
        str(tmp / "p.csv"),
    ]


def predict_on(broken: Callable[[Path, Path], str]) -> Build:
    return lambda tmp, run: ["predict", broken(run, tmp), "--data", table(tmp), "--output",
                             str(tmp / "p.csv")]  # fmt: skip


def train(*edits: tuple[str, str], source: Callable[[Path], str] | None = None) -> Build:
    def build(tmp: Path, run: Path) -> list[str]:
        chosen = source(tmp) if source is not None else None
        return ["train", config(tmp, *edits, source=chosen), "-o", str(tmp / "out"), "-q"]

    return build


def match(*edits: tuple[str, str]) -> Build:
    return lambda tmp, run: ["match", scenario(tmp, *edits), "-o", str(tmp / "m"), "-q"]


def command(*args: str) -> Build:
    """A command on the trained run: RUN and DATA stand for it and the good rows."""

    def build(tmp: Path, run: Path) -> list[str]:
        swap = {"RUN": str(run), "DATA": table(tmp), "TMP": str(tmp)}
        return [swap.get(a, a.replace("TMP", str(tmp))) for a in args]

    return build


INF_ROWS = edited_rows(r2="inf,q,z", r5="-inf,p,x")  # lines 3 and 6 of the file
NUMBER_ROWS = [f"{i},{'pq'[i % 2]},{i * 1.5}" for i in range(1, 13)]  # a number target

CASES = [
    # ------------------------------------------------ train: the config file
    Case(
        "train-config-missing",
        command("train", "TMP/nowhere.yaml"),
        ("nowhere.yaml", "does not exist"),
    ),
    Case("train-config-is-folder", command("train", "TMP"), ("is a folder",)),
    Case(
        "train-config-not-mapping",
        lambda tmp, run: ["train", raw_file(tmp, "c.yaml", b"- a\n- b\n")],
        ("c.yaml", "mapping"),
    ),
    Case(
        "train-config-empty",
        lambda tmp, run: ["train", raw_file(tmp, "c.yaml", b"")],
        ("c.yaml", "mapping"),
    ),
    Case(
        "train-config-binary",
        lambda tmp, run: ["train", raw_file(tmp, "c.yaml", bytes(range(256)))],
        ("c.yaml", "not UTF-8"),
    ),
    Case(
        "train-config-bad-yaml",
        lambda tmp, run: ["train", raw_file(tmp, "c.yaml", b"data:\n\tsource: x\n")],
        ("c.yaml", "line 2", "not valid YAML"),
    ),
    Case(
        "train-unknown-key",
        train(("epochs: 1", "epoch: 1")),
        ("line 11", "unknown key 'epoch'", "did you mean 'epochs'"),
    ),
    Case(
        "train-epochs-true",
        train(("epochs: 1", "epochs: true")),
        ("line 11", "training.epochs", "True", "booleans"),
    ),
    Case(
        "train-epochs-quoted",
        train(("epochs: 1", "epochs: '5'")),
        ("training.epochs", "'5'", "without quotes"),
    ),
    Case(
        "train-epochs-fraction",
        train(("epochs: 1", "epochs: 2.5")),
        ("training.epochs", "whole number"),
    ),
    Case(
        "train-batch-size-false",
        train(("batch_size: 4", "batch_size: false")),
        ("training.batch_size", "False"),
    ),
    Case(
        "train-learning-rate-true",
        train(("epochs: 1", "epochs: 1, learning_rate: true")),
        ("training.learning_rate", "True"),
    ),
    Case(
        "train-learning-rate-nan",
        train(("epochs: 1", "epochs: 1, learning_rate: .nan")),
        ("training.learning_rate", "finite"),
    ),
    Case(
        "train-hidden-bool", train(("hidden: [4]", "hidden: [true]")), ("decoder.hidden.0", "True")
    ),
    Case(
        "train-dropout-text",
        train(("hidden: [4]", "hidden: [4], dropout: '0.1'")),
        ("decoder.dropout", "'0.1'"),
    ),
    Case(
        "train-split-fraction-bool",
        train(("validation_fraction: 0.2", "validation_fraction: true")),
        ("data.split.validation_fraction", "True"),
    ),
    Case(
        "train-encoder-option-bool",
        train(
            (
                "{name: a, type: number}",
                "{name: a, type: number, encoder: {name: embed_mlp, dropout: true}}",
            )
        ),
        ("input_features.0.encoder", "encoder option 'dropout'", "True"),
    ),
    Case(
        "train-encoder-option-quoted-int",
        train(
            (
                "{name: b, type: category}",
                "{name: b, type: category, encoder: {name: embed_mlp, embedding_size: '8'}}",
            )
        ),
        ("input_features.1.encoder", "embedding_size", "'8'"),
    ),
    Case(
        "train-cnn-layer-bool",
        train(
            (
                "{name: a, type: number}",
                "{name: a, type: image, encoder: {name: cnn, conv_layers: "
                "[{filters: true, kernel_size: 3}]}}",
            )
        ),
        ("conv_layers.0.filters", "True"),
    ),
    Case(
        "train-unknown-encoder",
        train(("{name: a, type: number}", "{name: a, type: number, encoder: {name: nosuch}}")),
        ("unknown encoder 'nosuch'",),
    ),
    Case(
        "train-data-missing",
        train(source=lambda tmp: str(tmp / "nowhere.csv")),
        ("nowhere.csv", "does not exist"),
    ),
    Case(
        "train-unknown-builtin",
        train(source=lambda tmp: "builtin:nosuch"),
        ("built-in data set 'nosuch'",),
    ),
    Case(
        "train-empty-csv", train(source=lambda tmp: raw_file(tmp, "e.csv", b"")), ("e.csv", "empty")
    ),
    Case(
        "train-ragged-row",
        train(source=lambda tmp: table(tmp, rows=edited_rows(r3="3,p"))),
        ("t.csv", "line 4", "expected 3 fields"),
    ),
    Case(
        "train-undecodable-row",
        train(source=lambda tmp: latin1_table(tmp, edited_rows(r3="3,café,z"))),
        ("u.csv", "line 4", "0xe9", "not valid utf-8"),
    ),
    Case(
        "train-inf-feature",
        train(source=lambda tmp: table(tmp, rows=INF_ROWS)),
        ("t.csv", "column 'a'", "2 infinite", "lines 3, 6"),
    ),
    Case(
        "train-inf-target",
        train(
            ("{name: y, type: category}", "{name: y, type: number}"),
            source=lambda tmp: table(
                tmp, rows=NUMBER_ROWS[:3] + ["4,q,Infinity"] + NUMBER_ROWS[4:]
            ),
        ),
        ("t.csv", "column 'y'", "1 infinite", "line 5"),
    ),
    Case(
        "train-text-in-number",
        train(source=lambda tmp: table(tmp, rows=edited_rows(r7="seven,p,x"))),
        ("t.csv", "column 'a'", "expected a number in row 7", "'seven'"),
    ),
    Case(
        "train-target-missing",
        train(source=lambda tmp: table(tmp, header="a,b,label")),
        ("target column 'y' does not exist", "Columns: a, b, label"),
    ),
    Case(
        "train-output-is-file",
        lambda tmp, run: ["train", config(tmp), "-o", table(tmp, "o.csv")],
        ("--output", "o.csv", "is a file"),
    ),
    Case(
        "train-output-under-file",
        lambda tmp, run: ["train", config(tmp), "-o", table(tmp, "o.csv") + "/run"],
        ("--output", "o.csv", "is a file, not a folder"),
    ),
    Case(
        "train-nproc-zero",
        lambda tmp, run: ["train", config(tmp), "-o", str(tmp / "o"), "--nproc", "0"],
        ("--nproc 0",),
    ),
    Case(
        "train-master-port-negative",
        lambda tmp, run: [
            "train",
            config(tmp),
            "-o",
            str(tmp / "o"),
            "--nproc",
            "2",
            "--master-port",
            "-5",
        ],
        ("--master-port", "-5"),
    ),
    Case(
        "train-resume-corrupt-checkpoint",
        lambda tmp, run: [
            "train",
            config(tmp),
            "-o",
            file_edit(run, tmp, "checkpoint/model.safetensors", truncated),
            "--resume",
            "-q",
        ],
        ("checkpoint", "corrupt"),
    ),
    Case(
        "train-resume-other-network",
        lambda tmp, run: [
            "train",
            config(tmp, ("hidden: [4]", "hidden: [8]")),
            "-o",
            str(copy_run(run, tmp)),
            "--resume",
            "-q",
        ],
        ("checkpoint", "another network", "decoder.hidden.0.weight", "--resume"),
    ),
    # ------------------------------------------------ match
    Case(
        "match-workers-zero",
        lambda tmp, run: ["match", scenario(tmp), "--workers", "0"],
        ("--workers", "not 0"),
    ),
    Case(
        "match-workers-negative",
        lambda tmp, run: ["match", scenario(tmp), "--workers", "-2"],
        ("--workers", "not -2"),
    ),
    Case(
        "match-budget-workers-zero",
        match(("max_trials: 1", "max_trials: 1, workers: 0")),
        ("budget.workers",),
    ),
    Case(
        "match-budget-workers-true",
        match(("max_trials: 1", "max_trials: 1, workers: true")),
        ("budget.workers", "True"),
    ),
    Case(
        "match-accuracy-above-1",
        match(("min: 0.5", "min: 1.5")),
        ("line 9", "constraints.quality.min", "accuracy", "between 0 and 1", "1.5"),
    ),
    Case(
        "match-f1-negative",
        match(("metric: accuracy, min: 0.5", "metric: f1_macro, min: -0.1")),
        ("constraints.quality.min", "f1_macro", "between 0 and 1", "-0.1"),
    ),
    Case(
        "match-roc-auc-2",
        match(("metric: accuracy, min: 0.5", "metric: roc_auc, min: 2")),
        ("constraints.quality.min", "roc_auc", "between 0 and 1"),
    ),
    Case(
        "match-r2-above-1",
        lambda tmp, run: ["match", regression(tmp, "{metric: r2, min: 1.2}")],
        ("constraints.quality.min", "r2", "at most 1", "1.2"),
    ),
    Case(
        "match-mae-negative",
        lambda tmp, run: ["match", regression(tmp, "{metric: mae, max: -1}")],
        ("constraints.quality.max", "mae", "at least 0", "-1"),
    ),
    Case(
        "match-rmse-negative",
        lambda tmp, run: ["match", regression(tmp, "{metric: rmse, max: -0.5}")],
        ("constraints.quality.max", "rmse", "at least 0"),
    ),
    Case(
        "match-quality-infinite",
        match(("min: 0.5", "min: .inf")),
        ("constraints.quality.min", "finite"),
    ),
    Case(
        "match-unknown-key",
        match(("budget:", "colour: red\nbudget:")),
        ("line 7", "unknown key 'colour'"),
    ),
    Case(
        "match-scenario-missing",
        command("match", "TMP/nowhere.yaml"),
        ("nowhere.yaml", "does not exist"),
    ),
    Case(
        "match-backend-unknown",
        lambda tmp, run: ["match", scenario(tmp), "--backend", "spark"],
        ("--backend", "spark"),
    ),
    Case(
        "match-address-without-ray",
        lambda tmp, run: ["match", scenario(tmp), "--address", "h:1"],
        ("--address", "--backend ray"),
    ),
    Case(
        "match-output-is-file",
        lambda tmp, run: ["match", scenario(tmp), "-o", table(tmp, "o.csv")],
        ("--output", "o.csv", "is a file"),
    ),
    # ------------------------------------------------ evaluate
    Case(
        "evaluate-target-missing",
        lambda tmp, run: ["evaluate", str(run), "--data", table(tmp, header="a,b,label")],
        ("evaluation data lacks column(s) 'y'",),
    ),
    Case(
        "evaluate-data-missing",
        command("evaluate", "RUN", "--data", "TMP/nowhere.csv"),
        ("nowhere.csv", "does not exist"),
    ),
    Case(
        "evaluate-inf",
        lambda tmp, run: ["evaluate", str(run), "--data", table(tmp, rows=INF_ROWS)],
        ("column 'a'", "lines 3, 6"),
    ),
    Case(
        "evaluate-output-folder",
        command("evaluate", "RUN", "--data", "DATA", "--output", "TMP"),
        ("--output", "is a folder"),
    ),
    Case(
        "evaluate-run-missing",
        command("evaluate", "TMP/norun", "--data", "DATA"),
        ("norun", "does not exist"),
    ),
    Case(
        "evaluate-corrupt-weights",
        lambda tmp, run: [
            "evaluate",
            file_edit(run, tmp, "model/model.safetensors", random_bytes),
            "--data",
            table(tmp),
        ],
        ("model.safetensors", "corrupt"),
    ),
    # ------------------------------------------------ predict: data
    Case(
        "predict-inf",
        predict(lambda tmp: table(tmp, "p_in.csv", ["1,p", "inf,q", "3,p"], header="a,b")),
        ("p_in.csv", "column 'a'", "1 infinite", "line 3"),
    ),
    Case(
        "predict-minus-inf",
        predict(lambda tmp: table(tmp, "p_in.csv", ["-Infinity,p", "2,q"], header="a,b")),
        ("p_in.csv", "column 'a'", "line 2"),
    ),
    Case(
        "predict-many-inf",
        predict(lambda tmp: table(tmp, "p_in.csv", ["inf,p"] * 14, header="a,b")),
        ("column 'a'", "14 infinite", "and 4 more"),
    ),
    Case(
        "predict-feature-missing",
        predict(lambda tmp: table(tmp, "p_in.csv", ["p"], header="b")),
        ("prediction data lacks column(s) 'a'",),
    ),
    Case(
        "predict-text-in-number",
        predict(lambda tmp: table(tmp, "p_in.csv", ["1,p", "two,q"], header="a,b")),
        ("column 'a'", "expected a number in row 2", "'two'"),
    ),
    Case(
        "predict-ragged-row",
        predict(lambda tmp: table(tmp, "p_in.csv", ["1,p", "2"], header="a,b")),
        ("p_in.csv", "line 3", "expected 2 fields"),
    ),
    Case(
        "predict-empty-file", predict(lambda tmp: raw_file(tmp, "e.csv", b"")), ("e.csv", "empty")
    ),
    Case(
        "predict-data-missing",
        predict(lambda tmp: str(tmp / "nowhere.csv")),
        ("nowhere.csv", "does not exist"),
    ),
    Case(
        "predict-unknown-builtin",
        predict(lambda tmp: "builtin:nosuch"),
        ("built-in data set 'nosuch'",),
    ),
    Case(
        "predict-output-folder",
        command("predict", "RUN", "--data", "DATA", "--output", "TMP"),
        ("--output", "is a folder"),
    ),
    Case(
        "predict-output-under-file",
        lambda tmp, run: [
            "predict",
            str(run),
            "--data",
            table(tmp),
            "--output",
            table(tmp, "o.csv") + "/p.csv",
        ],
        ("--output", "o.csv", "is a file, not a folder"),
    ),
    Case("predict-missing-data-option", command("predict", "RUN"), ("Missing option '--data'",)),
    # ------------------------------------------------ predict: the bundle
    Case(
        "predict-model-json-truncated",
        predict_on(lambda run, tmp: file_edit(run, tmp, "model/model.json", truncated)),
        ("model.json", "corrupt or was edited", "not valid JSON"),
    ),
    Case(
        "predict-model-json-random",
        predict_on(lambda run, tmp: file_edit(run, tmp, "model/model.json", random_bytes)),
        ("model.json", "not valid JSON"),
    ),
    Case(
        "predict-model-json-list",
        predict_on(lambda run, tmp: file_edit(run, tmp, "model/model.json", lambda b: b"[1]")),
        ("model.json", "JSON list"),
    ),
    Case(
        "predict-model-json-no-features",
        predict_on(lambda run, tmp: manifest_edit(run, tmp, no_features)),
        ("model.json", "'features' is missing"),
    ),
    Case(
        "predict-model-json-bad-config",
        predict_on(lambda run, tmp: manifest_edit(run, tmp, bad_epochs)),
        ("model.json", "training.epochs"),
    ),
    Case(
        "predict-safetensors-truncated",
        predict_on(lambda run, tmp: file_edit(run, tmp, "model/model.safetensors", truncated)),
        ("model.safetensors", "corrupt or was edited", "not a readable safetensors"),
    ),
    Case(
        "predict-safetensors-random",
        predict_on(lambda run, tmp: file_edit(run, tmp, "model/model.safetensors", random_bytes)),
        ("model.safetensors", "not a readable safetensors"),
    ),
    Case(
        "predict-safetensors-empty",
        predict_on(lambda run, tmp: file_edit(run, tmp, "model/model.safetensors", lambda b: b"")),
        ("model.safetensors", "not a readable safetensors"),
    ),
    Case(
        "predict-shapes-edited",
        predict_on(lambda run, tmp: manifest_edit(run, tmp, set_hidden)),
        (
            "model.json",
            "no longer matches the weights in model.safetensors",
            "decoder.hidden.0.weight",
            "4×",
        ),
    ),
    Case(
        "predict-vocabulary-edited",
        predict_on(lambda run, tmp: manifest_edit(run, tmp, add_category)),
        ("model.json", "no longer matches", "encoders.b"),
    ),
    Case(
        "predict-metrics-truncated",
        predict_on(lambda run, tmp: file_edit(run, tmp, "metrics.json", truncated)),
        ("metrics.json", "corrupt"),
    ),
    Case(
        "predict-history-garbled",
        predict_on(lambda run, tmp: file_edit(run, tmp, "history.csv", random_bytes)),
        ("history.csv", "corrupt"),
    ),
    Case(
        "predict-not-a-run", predict_on(lambda run, tmp: str(tmp)), ("not a tailorml model bundle",)
    ),
    Case(
        "predict-run-missing",
        predict_on(lambda run, tmp: str(tmp / "norun")),
        ("norun", "does not exist"),
    ),
    # ------------------------------------------------ audit
    Case(
        "audit-max-gap-negative",
        command(
            "audit",
            "RUN",
            "--data",
            "DATA",
            "--sensitive",
            "b",
            "--mitigate",
            "demographic_parity",
            "--max-gap",
            "-1",
        ),
        ("--max-gap", "-1"),
    ),
    Case(
        "audit-max-gap-above-1",
        command("audit", "RUN", "--data", "DATA", "--sensitive", "b", "--max-gap", "1.5"),
        ("--max-gap", "1.5"),
    ),
    Case(
        "audit-sensitive-missing",
        command("audit", "RUN", "--data", "DATA", "--sensitive", "nosuch"),
        ("sensitive column 'nosuch'",),
    ),
    Case(
        "audit-mitigate-unknown",
        command("audit", "RUN", "--data", "DATA", "--sensitive", "b", "--mitigate", "luck"),
        ("--mitigate", "'luck'"),
    ),
    Case(
        "audit-corrupt-weights",
        lambda tmp, run: [
            "audit",
            file_edit(run, tmp, "model/model.safetensors", truncated),
            "--data",
            table(tmp),
            "--sensitive",
            "b",
        ],
        ("model.safetensors", "corrupt"),
    ),
    Case(
        "audit-baseline-missing",
        command("audit", "RUN", "--data", "DATA", "--sensitive", "b", "--baseline", "TMP/nob"),
        ("nob", "does not exist"),
    ),
    # ------------------------------------------------ explain
    Case(
        "explain-rows-reversed",
        command("explain", "RUN", "--data", "DATA", "--rows", "5:2"),
        ("--rows 5:2", "empty"),
    ),
    Case(
        "explain-rows-outside",
        command("explain", "RUN", "--data", "DATA", "--rows", "0:500"),
        ("--rows 0:500", "outside the 12 rows"),
    ),
    Case(
        "explain-rows-garbled",
        command("explain", "RUN", "--data", "DATA", "--rows", "a:b"),
        ("--rows", "'a:b'"),
    ),
    Case(
        "explain-corrupt-json",
        lambda tmp, run: [
            "explain",
            file_edit(run, tmp, "model/model.json", truncated),
            "--data",
            table(tmp),
        ],
        ("model.json", "corrupt"),
    ),
    Case(
        "explain-data-missing",
        command("explain", "RUN", "--data", "TMP/nowhere.csv"),
        ("nowhere.csv", "does not exist"),
    ),
    # ------------------------------------------------ export
    Case(
        "export-quantize-int4",
        command("export", "RUN", "--quantize", "int4"),
        ("--quantize", "int4"),
    ),
    Case(
        "export-format-unknown",
        command("export", "RUN", "--format", "tflite"),
        ("--format", "tflite"),
    ),
    Case(
        "export-output-folder",
        command("export", "RUN", "--output", "TMP"),
        ("--output", "is a folder"),
    ),
    Case(
        "export-corrupt-weights",
        lambda tmp, run: ["export", file_edit(run, tmp, "model/model.safetensors", random_bytes)],
        ("model.safetensors", "corrupt"),
    ),
    Case("export-run-missing", command("export", "TMP/norun"), ("norun", "does not exist")),
    # ------------------------------------------------ serve (all fail before the server starts)
    Case("serve-port-negative", command("serve", "RUN", "--port", "-1"), ("port", "-1")),
    Case("serve-port-too-large", command("serve", "RUN", "--port", "70000"), ("port", "70000")),
    Case(
        "serve-max-batch-size-zero",
        command("serve", "RUN", "--max-batch-size", "0"),
        ("max_batch_size", "0"),
    ),
    Case("serve-workers-zero", command("serve", "RUN", "--workers", "0"), ("workers", "0")),
    Case(
        "serve-max-wait-negative",
        command("serve", "RUN", "--max-wait-ms", "-1"),
        ("max_wait_ms", "-1"),
    ),
    Case(
        "serve-backend-unknown", command("serve", "RUN", "--backend", "tpu"), ("backend", "'tpu'")
    ),
    Case(
        "serve-backend-onnx-not-exported",
        command("serve", "RUN", "--backend", "onnx"),
        ("--backend onnx", "tailor export"),
    ),
    Case(
        "serve-api-key-unset",
        command("serve", "RUN", "--api-key-env", "TAILOR_TEST_NO_SUCH_KEY"),
        ("TAILOR_TEST_NO_SUCH_KEY", "not set"),
    ),
    Case(
        "serve-corrupt-json",
        lambda tmp, run: ["serve", file_edit(run, tmp, "model/model.json", random_bytes)],
        ("model.json", "corrupt"),
    ),
    Case(
        "serve-shapes-edited",
        lambda tmp, run: ["serve", manifest_edit(run, tmp, set_hidden)],
        ("model.json", "no longer matches"),
    ),
    Case("serve-not-a-run", command("serve", "TMP"), ("not a tailorml model bundle",)),
    # ------------------------------------------------ init
    Case(
        "init-output-folder",
        command("init", "DATA", "--target", "y", "--output", "TMP"),
        ("--output", "is a folder"),
    ),
    Case(
        "init-output-exists",
        lambda tmp, run: ["init", table(tmp), "--target", "y", "--output", config(tmp)],
        ("--output", "config.yaml", "already exists", "--force"),
    ),
    Case(
        "init-output-under-file",
        lambda tmp, run: [
            "init",
            table(tmp),
            "--target",
            "y",
            "--output",
            table(tmp, "o.csv") + "/c.yaml",
        ],
        ("o.csv", "is a file"),
    ),
    Case(
        "init-target-missing",
        command("init", "DATA", "--target", "income"),
        ("target column 'income'",),
    ),
    Case(
        "init-data-missing",
        command("init", "TMP/nowhere.csv", "--target", "y"),
        ("nowhere.csv", "does not exist"),
    ),
    Case(
        "init-inf",
        lambda tmp, run: ["init", table(tmp, rows=INF_ROWS), "--target", "y"],
        ("column 'a'", "lines 3, 6"),
    ),
    # ------------------------------------------------ pii
    Case(
        "pii-redact-folder", command("pii", "DATA", "--redact", "TMP"), ("--redact", "is a folder")
    ),
    Case(
        "pii-redact-under-file",
        lambda tmp, run: ["pii", table(tmp), "--redact", table(tmp, "o.csv") + "/r.csv"],
        ("--redact", "o.csv", "is a file"),
    ),
    Case("pii-data-missing", command("pii", "TMP/nowhere.csv"), ("nowhere.csv", "does not exist")),
    Case("pii-column-missing", command("pii", "DATA", "--columns", "nosuch"), ("'nosuch'",)),
    # ------------------------------------------------ schema, data
    Case("schema-unknown", command("schema", "modle"), ("unknown schema 'modle'",)),
    Case("data-fetch-unknown", command("data", "fetch", "nosuch"), ("'nosuch'", "adult", "mnist")),
    Case(
        "data-fetch-cache-is-file",
        lambda tmp, run: ["data", "fetch", "mnist", "--cache", table(tmp)],
        ("t.csv", "cache folder"),
    ),
]


# ---------------------------------------------------------------- running the CLI in-process


@pytest.fixture(autouse=True)
def keep_torch_threads() -> Iterator[None]:
    """A serve case that gets as far as setting up the server process sets torch's
    thread count in this process; later tests (which compare a subprocess's metrics
    with this process's, bit for bit) need the count they started with."""
    import torch

    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny run (12 rows, 1 epoch, a 4-unit MLP) for the cases to use and break."""
    folder = tmp_path_factory.mktemp("bad-input")
    source = table(folder)
    text = CONFIG.replace("SOURCE", source)
    tailorml.train(tailorml.config.parse_config(text), folder / "run", quiet=True)
    return folder / "run"


def run_tailor(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int | str | None, str]:
    """Exit code and output (stdout and stderr, whitespace squeezed) of ``tailor ARGV``."""
    monkeypatch.setattr(sys, "argv", ["tailor", *argv])
    monkeypatch.delenv("TAILOR_DEBUG", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    captured = capsys.readouterr()
    return exit_info.value.code, " ".join((captured.out + captured.err).split())


@pytest.fixture
def no_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """A serve case that got past its checks fails instead of serving forever."""
    import uvicorn

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the server started: the bad input was accepted")

    monkeypatch.setattr(uvicorn, "run", refuse)
    monkeypatch.setattr("tailorml.serve.server.run_workers", refuse)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_a_clear_user_error(
    case: Case,
    trained_run: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    no_server: None,
) -> None:
    argv = case.build(tmp_path, trained_run)
    code, message = run_tailor(argv, monkeypatch, capsys)
    assert code == 2, message
    assert "Traceback" not in message
    assert "internal error" not in message
    for fragment in case.expect:
        assert fragment in message, f"{fragment!r} not in: {message}"


def test_the_table_covers_every_command() -> None:
    commands = {c.id.split("-")[0] for c in CASES}
    assert commands >= {"train", "match", "evaluate", "predict", "audit", "explain", "export",
                        "serve", "init", "pii", "schema", "data"}  # fmt: skip
    assert len(CASES) >= 60
    assert len({c.id for c in CASES}) == len(CASES)


# ---------------------------------------------------------------- the behaviours chosen


def test_init_replaces_an_existing_config_only_with_force(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    existing = tmp_path / "people.yaml"
    existing.write_text("# edited by hand\n")
    argv = ["init", table(tmp_path), "--target", "y", "--output", str(existing)]
    assert run_tailor(argv, monkeypatch, capsys)[0] == 2
    assert existing.read_text() == "# edited by hand\n"
    assert run_tailor([*argv, "--force"], monkeypatch, capsys)[0] == 0
    assert "input_features" in existing.read_text()


def test_outputs_replace_files_and_create_folders(
    trained_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    old = tmp_path / "predictions.csv"
    old.write_text("stale\n")
    predict_argv = ["predict", str(trained_run), "--data", table(tmp_path), "--output", str(old)]
    assert run_tailor(predict_argv, monkeypatch, capsys)[0] == 0
    assert old.read_text().startswith("prediction,") and len(old.read_text().splitlines()) == 13
    fresh = tmp_path / "new" / "deeper" / "clean.csv"
    assert run_tailor(["pii", table(tmp_path), "--redact", str(fresh)], monkeypatch, capsys)[0] == 0
    assert fresh.read_text().splitlines()[0] == "a,b,y"
    config_file = tmp_path / "configs" / "c.yaml"
    init_argv = ["init", table(tmp_path), "--target", "y", "--output", str(config_file)]
    assert run_tailor(init_argv, monkeypatch, capsys)[0] == 0 and config_file.is_file()


def test_resume_without_a_checkpoint_starts_fresh_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "run"
    argv = ["train", config(tmp_path), "-o", str(output), "--resume", "-q"]
    code, message = run_tailor(argv, monkeypatch, capsys)
    assert code == 0, message
    assert f"no checkpoint in {output / 'checkpoint'}; starting from epoch 1" in message
    assert json.loads((output / "metrics.json").read_text())["train"]["epochs"] == 1
    code, message = run_tailor(argv, monkeypatch, capsys)  # now there is one: no note
    assert code == 0 and "no checkpoint" not in message


def test_infinite_rows_are_dropped_and_counted_in_drop_mode(tmp_path: Path) -> None:
    path = table(tmp_path, rows=edited_rows(r2="inf,q,z", r5="-inf,p,x", r7="7,p"))
    data = read_source(path, bad_rows="drop")
    assert len(data.frames["all"]) == 9 and data.dropped_rows == 3
    assert any("lines 3, 6, 8" in note for note in data.notes), data.notes


def test_missing_numbers_stay_missing_values(tmp_path: Path) -> None:
    path = table(tmp_path, rows=edited_rows(r2=",q,z", r5="nan,p,x"))
    frame = read_source(path).frames["all"]
    assert frame["a"].isna().sum() == 2  # filled by preprocessing.missing, not refused


def test_float_fields_take_integers_and_bounds_at_the_edge_are_valid(tmp_path: Path) -> None:
    from tailorml.config import Scenario, load_config

    loaded = load_config(config(tmp_path, ("epochs: 1", "epochs: 1, learning_rate: 1")))
    assert loaded.training.learning_rate == 1.0 and isinstance(loaded.training.learning_rate, float)
    for quality in ("{metric: accuracy, min: 1}", "{metric: roc_auc, min: 0}"):
        path = scenario(tmp_path, ("{metric: accuracy, min: 0.5}", quality))
        assert load_config(path, Scenario).constraints.quality is not None
    for quality in ("{metric: r2, min: -3}", "{metric: mae, max: 0}"):
        assert load_config(regression(tmp_path, quality), Scenario).constraints.quality is not None


def test_a_frame_with_infinity_is_refused_by_the_python_api(trained_run: Path) -> None:
    rows = pd.DataFrame({"a": [1.0, 2.0, float("-inf")], "b": ["p", "q", "p"]})
    with pytest.raises(DataError, match=r"column 'a': infinite value .* in row 3"):
        tailorml.load(trained_run).predict(rows)


@pytest.mark.parametrize(("family", "file"), [("linear", "linear.safetensors"),
                                              ("lightgbm", "lightgbm.txt")])  # fmt: skip
def test_a_corrupt_classical_bundle_names_its_file(
    trained_run: Path, tmp_path: Path, family: str, file: str
) -> None:
    run = tailorml.load(trained_run)
    features = run.bundle.features
    encoded = features.encode(read_source(table(tmp_path)).frames["all"])
    assert encoded.target is not None
    model = CLASSICAL[family]({}, features.metas(), "category", 2)
    model.fit(encoded.inputs, encoded.target, seed=0)
    save_bundle(Bundle(run.config, features, model, family, {}), tmp_path / "model")
    load_bundle(tmp_path / "model")  # intact, it loads
    (tmp_path / "model" / file).write_bytes(b"\x00garbage")
    with pytest.raises(TailorError, match=f"corrupt or was edited: the {family} .*{file}"):
        load_bundle(tmp_path / "model")


# ---------------------------------------------------------------- the HTTP service


@pytest.fixture
def service(trained_run: Path) -> Iterator[TestClient]:
    from tailorml.serve import create_app

    with TestClient(create_app(trained_run)) as client:
        yield client


@pytest.mark.parametrize("path", ["/predict", "/explain"])
@pytest.mark.parametrize(
    ("row", "field"),
    [
        ('{"a": Infinity, "b": "p"}', "rows[0].a"),
        ('{"a": -Infinity, "b": "p"}', "rows[0].a"),
        ('{"a": 1e400, "b": "q"}', "rows[0].a"),
        ('{"a": 1, "b": Infinity}', "rows[0].b"),
    ],
)
def test_service_answers_infinity_with_a_422(
    service: TestClient, path: str, row: str, field: str
) -> None:
    response = service.post(path, content=f'{{"rows": [{row}]}}'.encode())
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith(field)


def test_service_accepts_the_same_row_when_finite(service: TestClient) -> None:
    response = service.post("/predict", content=b'{"rows": [{"a": 1e30, "b": "p"}]}')
    assert response.status_code == 200, response.text


def test_predict_says_how_many_broken_rows_got_no_prediction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    source = table(tmp_path, "train.csv")
    text = CONFIG.replace("SOURCE", source).replace("target: y", "target: y\n  bad_rows: drop")
    assert "bad_rows: drop" in text
    tailorml.train(tailorml.config.parse_config(text), tmp_path / "run", quiet=True)
    rows = table(tmp_path, "rows.csv", rows=edited_rows(r2="inf,q,z", r5="1,2,3,4"))
    code, said = run_tailor(
        ["predict", str(tmp_path / "run"), "--data", rows, "--output", str(tmp_path / "p.csv")],
        monkeypatch, capsys,
    )  # fmt: skip
    assert code in (0, None), said
    assert len(pd.read_csv(tmp_path / "p.csv")) == len(ROWS) - 2
    assert "warning: 2 broken rows" in said and "got no prediction" in said


def test_train_and_evaluate_say_how_many_broken_rows_were_dropped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    source = table(tmp_path, "train.csv", rows=[*ROWS, "1,2,3,4"])
    text = CONFIG.replace("SOURCE", source).replace("target: y", "target: y\n  bad_rows: drop")
    (tmp_path / "drop.yaml").write_text(text)
    code, said = run_tailor(
        ["train", str(tmp_path / "drop.yaml"), "--output", str(tmp_path / "run"), "--quiet"],
        monkeypatch, capsys,
    )  # fmt: skip
    assert code in (0, None), said
    assert "warning: 1 broken row was dropped" in said
    code, said = run_tailor(
        ["evaluate", str(tmp_path / "run"), "--data", source], monkeypatch, capsys
    )
    assert code in (0, None), said
    assert "warning: 1 broken row was dropped" in said
