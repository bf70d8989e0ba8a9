"""``tailor train --nproc N``: one training process per rank, through torch's
elastic launcher (the machinery behind ``torchrun``).

Every rank runs ``pipeline.train`` on the same config inside a process group
(gloo on CPUs, NCCL on GPUs); the Trainer does what differs by rank (see
``train/distributed.py``) and rank 0 writes the run folder. On several
machines each one runs the same command with its ``--node-rank``, and all
name rank 0's machine as ``--master-addr``. When a rank fails, the launcher
stops the others and this module turns the failure into one clear message.
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch.distributed.elastic.multiprocessing import DefaultLogsSpecs
from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
from torch.distributed.launcher.api import LaunchConfig, elastic_launch

from tailorml.config import ConfigLike, ModelConfig, as_config
from tailorml.errors import ConfigError, TailorError
from tailorml.io import JSONObject, atomic_write_text
from tailorml.match.trial import core_share
from tailorml.pipelines.train import train
from tailorml.records.metrics import Metrics
from tailorml.train.distributed import check_single_process_options, rank_batch_size

COLLECTIVE_TIMEOUT = timedelta(minutes=10)  # a rank silent this long is taken as lost
RENDEZVOUS_TIMEOUT = 900  # seconds the nodes of a multi-node run wait for each other
DEFAULT_PORT = 29500  # torchrun's


class TrainingFailed(TailorError):
    """A rank of a distributed run failed; the launcher stopped the others."""

    exit_code = 1


def train_distributed(
    config: ConfigLike,
    output: str | Path,
    *,
    nproc: int,
    nnodes: int = 1,
    node_rank: int = 0,
    master_addr: str = "127.0.0.1",
    master_port: int | None = None,
    resume: bool = False,
    quiet: bool = False,
) -> Metrics | None:
    """Train with ``nproc`` processes on this machine (of ``nnodes`` machines).

    The config is checked here, before any process starts, so a typo or a
    batch that does not divide across the ranks is one error, not one per rank.

    Returns:
        Rank 0's metrics on the machine that runs rank 0; None on the others.

    Raises:
        ConfigError: the config is invalid or does not fit the process count.
        TrainingFailed: a rank failed (its error, or the signal that killed it).
    """
    cfg = as_config(config)
    if nproc < 1 or nnodes < 1 or not 0 <= node_rank < nnodes:
        raise ConfigError(
            f"--nproc {nproc}, --nnodes {nnodes}, --node-rank {node_rank}: need at least one "
            "process on at least one machine and 0 ≤ node rank < nnodes."
        )
    rank_batch_size(cfg.training.batch_size, nproc * nnodes)  # a batch that does not divide
    check_single_process_options(cfg.training, nproc * nnodes)  # DP-SGD
    port = master_port or (free_port() if nnodes == 1 else DEFAULT_PORT)
    quiet_launcher()
    with tempfile.TemporaryDirectory(prefix="tailorml-ranks-") as logs:
        launch = launch_config(nproc, nnodes, node_rank, f"{master_addr}:{port}", Path(logs))
        args = (cfg.model_dump(mode="json"), str(output), resume, quiet, logs)
        try:
            results = elastic_launch(launch, rank_main)(*args)
        except ChildFailedError as error:
            raise describe_failure(error, Path(logs), nproc * nnodes) from None
    return results.get(0)


def launch_config(
    nproc: int, nnodes: int, node_rank: int, endpoint: str, logs: Path
) -> LaunchConfig:
    """``torchrun``'s static rendezvous: node 0 hosts the store at ``endpoint``."""
    return LaunchConfig(
        min_nodes=nnodes, max_nodes=nnodes, nproc_per_node=nproc, run_id=f"tailorml-{endpoint}",
        rdzv_backend="static", rdzv_endpoint=endpoint,
        rdzv_configs={"rank": node_rank, "timeout": RENDEZVOUS_TIMEOUT},
        max_restarts=0, monitor_interval=0.5, start_method="spawn",
        logs_specs=DefaultLogsSpecs(log_dir=str(logs)),
    )  # fmt: skip


def rank_main(config: JSONObject, output: str, resume: bool, quiet: bool, logs: str) -> Any:
    """One rank: join the process group, train, and leave it.

    Rank 0 returns the run's metrics; the others return None. A rank that
    fails writes its error to ``logs/rank-R.txt`` for ``describe_failure``
    and exits without a traceback (``TAILOR_DEBUG=1`` shows it).
    """
    try:
        return train_rank(ModelConfig.model_validate(config), output, resume, quiet)
    except Exception as error:
        if os.environ.get("TAILOR_DEBUG"):
            raise
        why = str(error) if isinstance(error, TailorError) else f"{type(error).__name__}: {error}"
        rank = os.environ.get("RANK", "0")
        atomic_write_text(Path(logs) / f"rank-{rank}.txt", why)
        raise SystemExit(error.exit_code if isinstance(error, TailorError) else 1) from None


def train_rank(cfg: ModelConfig, output: str, resume: bool, quiet: bool) -> Any:
    torch.set_num_threads(core_share(int(os.environ.get("LOCAL_WORLD_SIZE", "1"))))
    gpu = cfg.training.device != "cpu" and torch.cuda.is_available()
    if gpu:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group("nccl" if gpu else "gloo", timeout=COLLECTIVE_TIMEOUT)
    try:
        run = train(cfg, output, resume=resume, quiet=quiet)
        return run.metrics if dist.get_rank() == 0 else None
    finally:
        dist.destroy_process_group()


def describe_failure(error: ChildFailedError, logs: Path, world: int) -> TailorError:
    """One paragraph: which rank failed and why.

    A rank's own error comes first (bad input exits 2, as in one process);
    else a rank killed by a signal other than SIGABRT (with which a rank whose
    peer vanished mid-collective aborts).
    """
    failures = error.failures
    written = {rank: logs / f"rank-{rank}.txt" for rank in failures}
    errors = {rank: path.read_text().strip() for rank, path in written.items() if path.exists()}
    if errors:
        rank = min(errors)
        if failures[rank].exitcode == TailorError.exit_code:  # the user's input, not a crash
            return TailorError(f"rank {rank} of {world}: {errors[rank]}")
        why = f"stopped with {errors[rank]}"
    else:
        killed = [r for r, f in failures.items() if f.exitcode < 0 and f.signal_name() != "SIGABRT"]
        rank = min(killed) if killed else min(failures)
        failure = failures[rank]
        why = (f"was killed by signal {failure.signal_name()}" if failure.exitcode < 0
               else f"exited with code {failure.exitcode}")  # fmt: skip
    return TrainingFailed(
        f"distributed training failed: rank {rank} of {world} {why.rstrip('.')}. The launcher "
        "stopped the other ranks; the run folder keeps the last epoch checkpoint: fix the "
        "cause and rerun with --resume to continue from it."
    )


def quiet_launcher() -> None:
    """The launcher logs each failure with its own traceback; this module says
    it in one paragraph instead (``TAILOR_DEBUG=1`` keeps the launcher's logs)."""
    if os.environ.get("TAILOR_DEBUG"):
        return
    prefixes = ("torch.distributed.elastic", "torch.multiprocessing")
    for name in [*logging.root.manager.loggerDict, *prefixes]:
        if name.startswith(prefixes):
            logging.getLogger(name).setLevel(logging.CRITICAL)


def free_port() -> int:
    """A TCP port that is free now on this machine (for a one-machine run)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
