"""Progress output: a live bar on a terminal, one readable line per epoch in a log."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import tailorml
from tailorml.train.progress import (
    TrainingProgress,
    counting,
    duration,
    epoch_line,
    significant,
    throughput,
)

CONFIG = """\
data:
  source: {source}
  target: y
  split: {{validation_fraction: 0.2}}
input_features:
  - {{name: a, type: number}}
  - {{name: b, type: category}}
decoder: {{hidden: [8]}}
output_features:
  - {{name: y, type: category}}
training: {{epochs: 3, batch_size: 32}}
"""
FIGURE = r"\d+(?:\.\d+)?"  # a loss or metric: 0.159, 1, 12.5
EPOCH_LINE = re.compile(
    rf"^epoch (\d)/3  loss ({FIGURE})  val_loss ({FIGURE})  val_accuracy ({FIGURE})"
    rf"  \d{{1,3}}(?:,\d{{3}})* samples/s  {FIGURE} s$"
)
SUMMARY = {
    "epoch": 3.0,
    "train_loss": 0.15943,
    "lr": 0.001,
    "seconds": 0.734,
    "samples_per_s": 5900.4,
    "train_accuracy": 0.93512,
    "val_loss": 0.17081,
    "val_accuracy": 0.92577,
}


@pytest.fixture
def not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Output is captured (not a tty) and nothing in the environment forces a terminal."""
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)


def table_config(folder: Path, rows: int = 300) -> Path:
    lines = ["a,b,y"] + [f"{i % 17},{'pqr'[i % 3]},{'xz'[(i % 17) > 8]}" for i in range(rows)]
    (folder / "t.csv").write_text("\n".join(lines) + "\n")
    config = folder / "config.yaml"
    config.write_text(CONFIG.format(source=folder / "t.csv"))
    return config


def significant_digits(figure: str) -> int:
    return len(figure.replace(".", "").lstrip("0").rstrip("0") or "0")


def assert_plain_epoch_lines(output: str, epochs: int = 3) -> None:
    assert "\r" not in output and "\x1b[" not in output, repr(output)
    lines = [line for line in output.splitlines() if line.startswith("epoch")]
    assert len(lines) == epochs, output
    for number, line in enumerate(lines, 1):
        match = EPOCH_LINE.match(line)
        assert match is not None, line
        assert match.group(1) == str(number)
        for figure in match.groups()[1:]:
            assert significant_digits(figure) <= 3, line


def test_figures_are_rounded_for_reading() -> None:
    assert significant(0.15943) == "0.159"
    assert significant(12.0) == "12"
    assert significant(0.9999) == "1"
    assert significant(1234.5) == "1,230"
    assert significant(0.000012345) == "1.23e-05"
    assert significant(float("nan")) == "nan"
    assert throughput(5900.4) == "5,900"
    assert throughput(123456.7) == "123,457"
    assert throughput(3.14159) == "3.1"
    assert duration(0.734) == "0.7 s"
    assert duration(12.0) == "12.0 s"
    assert duration(0.0734) == "0.073 s"


def test_epoch_line_is_short_and_rounded() -> None:
    line = epoch_line(SUMMARY, 5)
    assert (
        line == "epoch 3/5  loss 0.159  val_loss 0.171  val_accuracy 0.926  5,900 samples/s  0.7 s"
    )


def test_epoch_line_shows_what_changed_or_is_missing() -> None:
    no_validation = {k: v for k, v in SUMMARY.items() if not k.startswith("val_")}
    assert "accuracy 0.935" in epoch_line(no_validation, 5)
    assert "lr" not in epoch_line(SUMMARY, 5, previous=SUMMARY)
    assert "  lr 0.0005  " in epoch_line(SUMMARY | {"lr": 0.0005}, 5, previous=SUMMARY)
    assert "  epsilon 2.5  " in epoch_line(SUMMARY | {"epsilon": 2.5}, 5)


def test_training_prints_one_plain_line_per_epoch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], not_a_terminal: None
) -> None:
    tailorml.train(table_config(tmp_path), tmp_path / "run")
    captured = capsys.readouterr()
    assert_plain_epoch_lines(captured.err)
    assert "━" not in captured.err  # no bar, not even a final one


def test_quiet_training_prints_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], not_a_terminal: None
) -> None:
    tailorml.train(table_config(tmp_path), tmp_path / "run", quiet=True)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_cli_train_through_a_pipe_logs_plain_lines(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    env = {"FORCE_COLOR": "", "TTY_COMPATIBLE": "0", "COLUMNS": "60"}  # narrow: no wrapping
    result = cli("train", str(table_config(tmp_path)), "--output", str(tmp_path / "run"), env=env)
    assert result.returncode == 0, result.stderr
    assert_plain_epoch_lines(result.stderr)
    assert "\r" not in result.stdout and "\x1b[" not in result.stdout


def test_counting_off_a_terminal_prints_a_start_and_a_final_line(
    capsys: pytest.CaptureFixture[str], not_a_terminal: None
) -> None:
    with counting("embedding texts", 7632) as advance:
        for _ in range(7632 // 64):
            advance(64)
        advance(7632 % 64)
    err = capsys.readouterr().err
    assert "\r" not in err and "\x1b[" not in err
    start, final = err.splitlines()
    assert start == "embedding texts: 7,632 to do"
    assert re.fullmatch(r"embedding texts: 7,632 done in \S+ s \([\d,.]+/s\)", final), final


def test_quiet_counting_prints_nothing(
    capsys: pytest.CaptureFixture[str], not_a_terminal: None
) -> None:
    with counting("embedding texts", 10, quiet=True) as advance:
        advance(10)
    assert capsys.readouterr().err == ""


def test_terminal_bar_prints_the_same_epoch_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # rich treats the captured stderr as a terminal
    with TrainingProgress(epochs=5, steps=2) as bar:
        assert bar.live
        bar.start_epoch(3)
        bar.step(0.2, 5000.0)
        bar.step()
        bar.end_epoch(SUMMARY)
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", capsys.readouterr().err)
    assert epoch_line(SUMMARY, 5) in plain
