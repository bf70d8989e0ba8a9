"""Data-parallel training across processes: what each rank does differently.

``tailor train --nproc N`` (``pipelines/launch.py``) starts one process per rank
with the machinery behind ``torchrun``; each joins a process group (gloo on
CPUs, NCCL on GPUs) and runs the same Trainer, which asks this module to:

- take its share of every epoch's rows from a ``DistributedSampler`` seeded
  by the config's seed and the epoch, ``batch_size / world`` rows per step, so
  one step of all ranks together sees the config's global batch;
- wrap the network in ``DistributedDataParallel``, which averages gradients
  across ranks, so every rank holds the same parameters after every step;
- sum the epoch's loss, correct answers and rows over all ranks;
- leave checkpoints and the run folder to rank 0, which shares a checkpoint
  with the other ranks on ``--resume``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DistributedSampler

from tailorml.config import TrainingConfig
from tailorml.errors import ConfigError


@dataclass(frozen=True)
class World:
    """This process's place among the ranks (rank 0 of 1 when not distributed)."""

    rank: int = 0
    size: int = 1

    @property
    def main(self) -> bool:
        """Rank 0: the one that writes checkpoints and the run folder."""
        return self.rank == 0


def current_world() -> World:
    if dist.is_available() and dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size())
    return World()


def rank_batch_size(global_batch: int, world_size: int) -> int:
    """Rows per step on each rank, so that all ranks together take ``global_batch``.

    Raises:
        ConfigError: the global batch does not divide evenly across the ranks.
    """
    if global_batch % world_size:
        fits = [n for n in range(1, global_batch + 1) if global_batch % n == 0 and n <= 64]
        raise ConfigError(
            f"training.batch_size {global_batch} is the global batch and must divide evenly "
            f"across the {world_size} training processes (nnodes × nproc); use a batch size "
            f"that is a multiple of {world_size}, or a process count among "
            f"{', '.join(map(str, fits))}."
        )
    return global_batch // world_size


def check_single_process_options(cfg: TrainingConfig, world_size: int) -> None:
    """Refuse what trains in one process only.

    Raises:
        ConfigError: DP-SGD (``training.privacy``) with several processes.
    """
    if cfg.privacy is not None and world_size > 1:
        raise ConfigError(
            "training.privacy trains in one process (DP-SGD's accounting and per-sample "
            "clipping assume one Poisson-sampled batch per step); drop --nproc/--nnodes "
            "for a private run."
        )


def rank_rows(n: int, world: World, seed: int, epoch: int) -> torch.Tensor:
    """This rank's rows for an epoch, in random order: a ``DistributedSampler``
    shuffled by ``seed + epoch``; every rank gets the same count (a few rows are
    repeated when ``n`` does not divide)."""
    rows: Any = range(n)  # a sized sequence is all the sampler reads
    sampler: DistributedSampler[int] = DistributedSampler(
        rows, num_replicas=world.size, rank=world.rank, shuffle=True, seed=seed
    )
    sampler.set_epoch(epoch)
    return torch.tensor(list(sampler), dtype=torch.int64)


def data_parallel(net: nn.Module, device: torch.device) -> nn.Module:
    """The network wrapped so that ``backward`` averages gradients across ranks."""
    devices = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(net, device_ids=devices)


def summed(values: list[torch.Tensor], world: World, device: torch.device) -> list[float]:
    """Each value summed over all ranks (one all-reduce for all of them)."""
    stacked = torch.stack([v.detach().to(device).double().reshape(()) for v in values])
    if world.size > 1:
        dist.all_reduce(stacked)
    return [float(v) for v in stacked.cpu()]


def shared(value: Any, world: World) -> Any:
    """Rank 0's ``value`` on every rank (sent through the process group)."""
    if world.size == 1:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]
