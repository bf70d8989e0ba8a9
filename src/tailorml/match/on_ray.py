"""Trials as Ray tasks: ``tailor match SCENARIO --backend ray [--address ADDR]``.

The prepared data (the scenario's split rows) go into Ray's object store
once; each trial is a task that takes it from there (once per worker
process, then kept), trains the candidate as the local backend would, and
sends back its result and, for a finalist, the files of its bundle, which
this process writes into the run folder. A task whose worker process dies
is run again by Ray (``RETRIES`` times); the search goes on meanwhile.
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from tailorml.errors import ConfigError, TailorError
from tailorml.io import atomic_write_bytes, replace_dir, staging_dir
from tailorml.match.portfolio import Candidate
from tailorml.match.prepare import Prepared
from tailorml.match.trial import Job, TrialResult, core_share, run_trial

RETRIES = 3  # runs of a task whose worker died, after the first
CONNECT_TIMEOUT = 10  # seconds to reach the cluster's address
FORWARDED_ENV = ("HF_HUB_OFFLINE", "TAILORML_CACHE", "TAILORML_MATCH_CHECKPOINT")
Files = dict[str, bytes]  # a folder's files by relative path


class RaySession:
    """One search's connection to Ray, made on its first trial.

    Raises (from ``run``):
        ConfigError: Ray is not installed, or the cluster cannot be reached.
        TailorError: a trial failed on the cluster even after its retries.
    """

    def __init__(self, data: Prepared, address: str | None):
        self.data = data
        self.address = address
        self.ray: Any = None
        self.shared: Any = None

    def close(self) -> None:
        if self.ray is not None:
            self.ray.shutdown()

    def run(self, jobs: list[Job], deadline: float) -> Iterator[TrialResult]:
        """Run the jobs as Ray tasks; yield each result as it finishes."""
        if not jobs:
            return
        if self.ray is None:
            self.ray = connect(self.address)
            # the rows travel once, without the fitted features: each worker refits
            # them from the same rows, with the same result
            d = self.data
            self.shared = self.ray.put(Prepared(d.scenario, d.config, d.frames, d.dropped_rows))
        ray = self.ray
        threads = core_share(self.data.scenario.budget.workers)
        trial = ray.remote(max_retries=RETRIES, num_cpus=threads)(ray_trial)
        pending = {trial.remote([self.shared], *job[:4], job[4] is not None, threads): job
                   for job in jobs}  # fmt: skip
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
            for ref in done:
                job = pending.pop(ref)
                result, files = finished(ray, ref, job[0])
                if job[4] is not None:
                    unpack(files, job[4])
                yield result
            if time.monotonic() > deadline:
                for ref in pending:
                    ray.cancel(ref, force=True)
                return


def connect(address: str | None) -> Any:
    """The ``ray`` module, connected to the cluster (or to a new local instance).

    Raises:
        ConfigError: Ray is missing or does not answer at ``address``.
    """
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "--backend ray needs Ray on this machine and on the cluster: "
            "pip install 'tailorml[ray]' (or pip install ray)."
        ) from None
    if address is not None and address != "auto":
        reachable(address)
    env = {name: os.environ[name] for name in FORWARDED_ENV if name in os.environ}
    runtime_env = {"env_vars": env} if env else None
    try:
        ray.init(address=address, include_dashboard=False, log_to_driver=False,
                 logging_level=logging.ERROR, runtime_env=runtime_env)  # fmt: skip
    except (ConnectionError, RuntimeError, ValueError) as error:
        where = f"at {address}" if address else "on this machine"
        raise ConfigError(
            f"could not connect to a Ray cluster {where}: {error}. A cluster with token "
            "authentication (Ray 2.59+) needs its token on this machine too: set "
            "RAY_AUTH_TOKEN to the output of 'ray get-auth-token' on the head."
        ) from None
    return ray


def reachable(address: str) -> None:
    """Fail fast when nothing listens at ``HOST:PORT`` (Ray itself retries for minutes).

    Raises:
        ConfigError: the address is malformed or refuses a connection.
    """
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT).close()
    except (OSError, ValueError) as error:
        raise ConfigError(
            f"could not connect to a Ray cluster at {address}: {error}. Start one with "
            "'ray start --head' and pass its address (HOST:6379) as --address."
        ) from None


def finished(ray: Any, ref: Any, candidate: Candidate) -> tuple[TrialResult, Files]:
    try:
        result: tuple[TrialResult, Files] = ray.get(ref)
    except Exception as error:  # a task error, or a worker lost more often than retried
        raise TailorError(
            f"trial {candidate.name} failed on the Ray cluster: {type(error).__name__}: "
            f"{str(error).splitlines()[0] if str(error) else ''}. Finished trials are in "
            "search/trials.jsonl; rerun the same command to resume the search."
        ) from None
    return result


_CACHED: dict[str, Prepared] = {}  # in a worker process: the prepared data, by object id


def ray_trial(
    box: list[Any], candidate: Candidate, rung: int, fraction: float, metric: str,
    save: bool, threads: int,
) -> tuple[TrialResult, Files]:  # fmt: skip
    """On a Ray worker: one trial, and its bundle's files when ``save``.

    ``box`` holds the object-store reference of the prepared data (in a list,
    so that Ray passes the reference rather than the data).
    """
    import ray

    key = box[0].hex()
    if key not in _CACHED:
        _CACHED.clear()
        _CACHED[key] = ray.get(box[0])
    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / candidate.name if save else None
        result = run_trial(candidate, _CACHED[key], rung, fraction, metric, folder)
        return result, pack(folder) if folder is not None else {}


def pack(folder: Path) -> Files:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def unpack(files: Files, target: Path) -> None:
    """Write a bundle's files into ``target``, all at once (staged, then swapped in)."""
    staging = staging_dir(target)
    for name, content in files.items():
        path = staging / name
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, content)
    replace_dir(staging, target)
