"""Distributed data parallel training: ``tailor train --nproc N``."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from tailorml.errors import ConfigError
from tailorml.io import load_tensors
from tailorml.train.distributed import World, rank_batch_size, rank_rows

ROOT = Path(__file__).resolve().parents[1]

# examples/adult_mlp.yaml, three epochs (the test's time), same global batch and seed
ADULT = yaml.safe_load((ROOT / "examples" / "adult_mlp.yaml").read_text())
ADULT["training"] |= {"epochs": 3, "early_stopping_patience": None}


def descendants(pid: int) -> list[int]:
    """Every living process below ``pid`` (from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if fields[0] != "Z":
                parents[int(entry.name)] = int(fields[1])
    found, frontier = [], [pid]
    while frontier:
        children = [p for p, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


@pytest.fixture(autouse=True)
def no_process_left() -> Any:
    """Every test here leaves no rank or launcher process behind."""
    yield
    deadline = time.monotonic() + 30
    while descendants(os.getpid()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert descendants(os.getpid()) == []


def start(*command: str) -> subprocess.Popen[str]:
    """A process in its own session, so that a test can stop all it started."""
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.Popen(
        [sys.executable, *command],
        cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip


def tailor(*args: str) -> subprocess.Popen[str]:
    return start("-m", "tailorml.cli", *args)


def finish(process: subprocess.Popen[str], timeout: float = 600) -> tuple[int, str]:
    """Exit code and output; on a timeout the whole session is killed first."""
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        raise AssertionError(f"timed out after {timeout} s: {(out + err)[-3000:]}") from None
    return process.returncode, out + err


def write_config(folder: Path, raw: dict[str, Any]) -> Path:
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """adult_mlp (three epochs) trained by two ranks, uninterrupted."""
    folder = tmp_path_factory.mktemp("ddp")
    code, output = finish(tailor("train", str(write_config(folder, ADULT)), "--nproc", "2",
                                 "-o", str(folder / "run"), "--quiet"))  # fmt: skip
    assert code == 0, output
    return folder / "run"


def test_rank_batch_must_divide_the_global_batch() -> None:
    assert rank_batch_size(256, 2) == 128
    with pytest.raises(ConfigError, match="batch_size 256 .* 3 training processes"):
        rank_batch_size(256, 3)


def test_ranks_share_every_row_once_per_epoch() -> None:
    parts = [rank_rows(10, World(rank, 2), seed=0, epoch=1) for rank in (0, 1)]
    assert sorted(torch.cat(parts).tolist()) == list(range(10))
    assert not torch.equal(parts[0], rank_rows(10, World(0, 2), seed=0, epoch=2))


def test_parameters_are_identical_on_every_rank(tmp_path: Path) -> None:
    """Ranks start from different weights; after DDP training steps they agree."""
    script = str(ROOT / "tests" / "ddp_ranks.py")
    launcher = ("-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2")
    code, output = finish(start(*launcher, script, str(tmp_path)), 300)
    assert code == 0, output[-3000:]
    ranks = [load_tensors(tmp_path / f"rank{r}.safetensors") for r in (0, 1)]
    assert ranks[0].keys() == ranks[1].keys()
    for name in ranks[0]:
        assert torch.equal(ranks[0][name], ranks[1][name]), name
    accuracies = [float((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert accuracies[0] == accuracies[1] > 0.6  # validation reduced over ranks, and learnt


def test_two_ranks_match_one_process(ddp_run: Path, cli) -> None:  # type: ignore[no-untyped-def]
    single = ddp_run.parent / "single"
    done = cli("train", str(ddp_run.parent / "config.yaml"), "-o", str(single), "--quiet")
    assert done.returncode == 0, done.stderr
    one = json.loads((single / "metrics.json").read_text())
    two = json.loads((ddp_run / "metrics.json").read_text())
    assert two["train"]["processes"] == 2 and one["train"]["processes"] == 1
    assert two["train"]["epochs"] == 3
    assert abs(two["test"]["accuracy"] - one["test"]["accuracy"]) <= 0.005
    assert two["test"]["accuracy"] > 0.83
    # only rank 0 wrote: one history row per epoch, one checkpoint
    assert len((ddp_run / "history.csv").read_text().splitlines()) == 1 + 3


def wait_for_epoch(run: Path, process: subprocess.Popen[str], epoch: int) -> None:
    state = run / "checkpoint" / "state.json"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        if state.exists() and json.loads(state.read_text())["epoch"] >= epoch:
            return
        time.sleep(0.2)
    raise AssertionError(f"no checkpoint of epoch {epoch}: {finish(process, 30)[1][-2000:]}")


def test_killed_run_resumes_to_the_same_model(ddp_run: Path, tmp_path: Path) -> None:
    config = str(ddp_run.parent / "config.yaml")
    run = tmp_path / "run"
    process = tailor("train", config, "--nproc", "2", "-o", str(run), "--quiet")
    wait_for_epoch(run, process, 1)
    os.killpg(process.pid, signal.SIGKILL)  # the launcher and both ranks, as a lost machine
    process.wait()
    assert not (run / "metrics.json").exists()
    code, output = finish(tailor("train", config, "--nproc", "2", "-o", str(run), "--resume",
                                 "--quiet"))  # fmt: skip
    assert code == 0, output
    resumed = json.loads((run / "metrics.json").read_text())
    whole = json.loads((ddp_run / "metrics.json").read_text())
    assert resumed["train"]["epochs"] == 3
    assert resumed["test"]["accuracy"] == whole["test"]["accuracy"]
    assert resumed["test"]["log_loss"] == whole["test"]["log_loss"]


def test_a_failed_rank_stops_the_run_with_a_message(tmp_path: Path) -> None:
    raw = {**ADULT, "training": {**ADULT["training"], "epochs": 50}}
    run = tmp_path / "run"
    process = tailor("train", str(write_config(tmp_path, raw)), "--nproc", "2", "-o", str(run),
                     "--quiet")  # fmt: skip
    wait_for_epoch(run, process, 1)
    ranks = [pid for pid in descendants(process.pid) if b"spawn_main" in command_line(pid)]
    assert len(ranks) == 2
    os.kill(max(ranks), signal.SIGKILL)  # one rank dies; the other waits in a collective
    started = time.monotonic()
    code, output = finish(process, 120)
    assert time.monotonic() - started < 90  # stopped, not hung until a collective timeout
    assert code == 1
    assert re.search(r"rank [01] of 2 was killed by signal SIGKILL", output), output
    assert "--resume" in output and "Traceback" not in output


def command_line(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def test_a_bad_data_source_is_one_clear_error(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    raw = {**ADULT, "data": {**ADULT["data"], "source": str(tmp_path / "missing.csv")}}
    done = cli("train", str(write_config(tmp_path, raw)), "--nproc", "2", "-o",
               str(tmp_path / "run"))  # fmt: skip
    assert done.returncode == 2  # bad input, as in one process
    # whichever rank fails first is named (the launcher then stops the other)
    assert re.search(r"rank [01] of 2: data file .*missing\.csv' does not exist", done.stderr)
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "run" / "metrics.json").exists()


def test_a_batch_that_does_not_divide_is_refused_before_launch(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    done = cli("train", str(write_config(tmp_path, ADULT)), "--nproc", "3", "-o",
               str(tmp_path / "run"))  # fmt: skip
    assert done.returncode == 2
    assert "batch_size 256" in done.stderr and "3 training processes" in done.stderr


def test_dp_sgd_is_refused_with_several_processes(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    raw = {**ADULT, "training": {**ADULT["training"], "privacy": {"epsilon": 3.0}}}
    done = cli("train", str(write_config(tmp_path, raw)), "--nproc", "2", "-o",
               str(tmp_path / "run"))  # fmt: skip
    assert done.returncode == 2
    assert "training.privacy trains in one process" in done.stderr


def test_two_machines_of_one_rank_each(tmp_path: Path) -> None:
    """--nnodes 2 on one machine: two launchers meet at node 0's address; only
    node 0 writes the run."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    raw = {**ADULT, "training": {**ADULT["training"], "epochs": 1}}
    common = ("train", str(write_config(tmp_path, raw)), "--nnodes", "2", "--nproc", "1",
              "--master-addr", "127.0.0.1", "--master-port", str(port), "--quiet")  # fmt: skip
    nodes = [
        tailor(*common, "--node-rank", str(r), "-o", str(tmp_path / f"run{r}")) for r in (0, 1)
    ]
    (code0, out0), (code1, out1) = (finish(node, 300) for node in nodes)
    assert code0 == 0 and code1 == 0, out0 + out1
    metrics = json.loads((tmp_path / "run0" / "metrics.json").read_text())
    assert metrics["train"]["processes"] == 2
    assert not (tmp_path / "run1").exists()
    assert "node rank 0 writes the run" in out1
