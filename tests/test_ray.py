"""``tailor match --backend ray``: a Ray head started here on 127.0.0.1, the
same answer as the local backend, a killed worker retried, nothing left running."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tailorml.records.match import MatchResult

ROOT = Path(__file__).resolve().parents[1]
RAY = str(Path(sys.executable).parent / "ray")
SCENARIO = ROOT / "scenarios" / "credit_income.yaml"


def ray_processes() -> list[int]:
    """Processes of a Ray node on this machine (head services and workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if b"raylet" in command or b"gcs_server" in command or command.startswith(b"ray::"):
            found.append(int(entry.name))
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Head:
    address: str
    env: dict[str, str]  # what a process needs to reach it (its token)


@pytest.fixture(scope="module")
def ray_head() -> Iterator[Head]:
    """A one-machine Ray cluster on 127.0.0.1 with two CPUs and its own
    authentication token (Ray ≥ 2.59 checks one); stopped afterwards."""
    assert ray_processes() == [], "a Ray node is already running on this machine"
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    port = free_port()
    temp = Path("/tmp") / f"ray-test-{port}"  # Ray's socket paths must stay short
    started = subprocess.run(
        [RAY, "start", "--head", f"--port={port}", "--node-ip-address=127.0.0.1",
         "--num-cpus=2", "--include-dashboard=false", "--disable-usage-stats",
         f"--temp-dir={temp}"],
        capture_output=True, text=True, timeout=180, env=env,
    )  # fmt: skip
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        yield Head(f"127.0.0.1:{port}", env)
    finally:
        subprocess.run([RAY, "stop", "--force"], capture_output=True, timeout=120, env=env)
        deadline = time.monotonic() + 30
        while ray_processes() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert ray_processes() == [], "ray stop left processes behind"


def trial_workers() -> list[int]:
    """Ray worker processes running a trial now (Ray titles them after the task)."""
    found = []
    for pid in ray_processes():
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if command.startswith(b"ray::ray_trial"):
            found.append(pid)
    return found


def qualities(result: dict[str, Any]) -> dict[str, float]:
    return {c["name"]: c["metrics"]["quality"] for c in result["candidates"]}


def test_ray_gives_the_local_answer_and_survives_a_killed_worker(
    ray_head: Head, matched: dict[str, tuple[Path, MatchResult]], tmp_path: Path
) -> None:
    local = matched["credit_income"][1].dump()  # as match.json holds it
    assert not local["search"]["stopped_by_budget"]
    process = subprocess.Popen(
        [sys.executable, "-m", "tailorml.cli", "match", str(SCENARIO), "--backend", "ray",
         "--address", ray_head.address, "-o", str(tmp_path / "ray"), "--quiet"],
        cwd=ROOT, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**ray_head.env, "COLUMNS": "200"},
    )  # fmt: skip
    deadline = time.monotonic() + 120
    killed = None
    busy_since: dict[int, float] = {}  # worker → when it was first seen running a trial
    while killed is None and time.monotonic() < deadline and process.poll() is None:
        now = time.monotonic()
        busy_since = {pid: busy_since.get(pid, now) for pid in trial_workers()}
        for pid, since in busy_since.items():
            if now - since >= 0.5:  # a trial long enough to be killed in the middle
                os.kill(pid, signal.SIGKILL)
                killed = pid
                break
        time.sleep(0.1)
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, out + err
    assert killed is not None, "no trial ran on a Ray worker"
    remote = json.loads((tmp_path / "ray" / "match.json").read_text())
    assert remote["search"]["backend"] == "ray"
    assert not remote["search"]["stopped_by_budget"]
    assert remote["recommended"] == local["recommended"]
    assert remote["search"]["rungs"] == local["search"]["rungs"]
    assert qualities(remote) == qualities(local)
    assert remote["test"]["metrics"]["accuracy"] == local["test"]["metrics"]["accuracy"]
    # the finalists' bundles came back from the workers into the run folder
    for name in qualities(remote):
        assert (tmp_path / "ray" / "candidates" / name / "model.json").exists()


def test_an_unreachable_cluster_is_one_clear_error(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    done = cli("match", str(SCENARIO), "--backend", "ray", "--address",
               f"127.0.0.1:{free_port()}", "-o", str(tmp_path / "run"), timeout=300)  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "could not connect to a Ray cluster at 127.0.0.1:" in done.stderr
    assert "Traceback" not in done.stderr
