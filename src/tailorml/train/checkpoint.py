"""Per-epoch training checkpoints as safetensors + JSON (no pickle)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from torch import nn

from tailorml.errors import TailorError
from tailorml.io import (
    atomic_write_json,
    load_tensors,
    read_json,
    replace_dir,
    save_tensors,
    shape_mismatch,
    staging_dir,
)


@dataclass
class TrainState:
    """Everything needed to continue training exactly where it stopped."""

    epoch: int  # epochs completed
    history: list[dict[str, float]]
    best_loss: float | None
    best_epoch: int
    stale_epochs: int


def optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], Any]:
    """Split an optimizer state dict into tensors and a JSON-ready rest."""
    state = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, slots in state["state"].items():
        for key, value in slots.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{index}.{key}"] = value
            else:
                scalars.setdefault(str(index), {})[key] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def restore_optimizer(
    optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], rest: Any
) -> None:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        index, slot = key.split(".", 1)
        state.setdefault(int(index), {})[slot] = value
    for index, slots in rest["scalars"].items():
        state.setdefault(int(index), {}).update(slots)
    optimizer.load_state_dict({"state": state, "param_groups": rest["param_groups"]})


def save_checkpoint(
    folder: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    order: torch.Generator,
    best: dict[str, torch.Tensor] | None,
    state: TrainState,
) -> None:
    """Write the checkpoint to a staging folder, then swap it in atomically."""
    staging = staging_dir(folder)
    save_tensors(staging / "model.safetensors", model.state_dict())
    opt_tensors, opt_rest = optimizer_tensors(optimizer)
    save_tensors(staging / "optimizer.safetensors", opt_tensors)
    rng = {"torch": torch.get_rng_state(), "order": order.get_state()}
    save_tensors(staging / "rng.safetensors", rng)
    if best is not None:
        save_tensors(staging / "best.safetensors", best)
    atomic_write_json(staging / "state.json", {**state.__dict__, "optimizer": opt_rest})
    replace_dir(staging, folder)


@dataclass
class Checkpoint:
    """A checkpoint as read from disk, before it is put back into a trainer."""

    model: dict[str, torch.Tensor]
    optimizer: dict[str, torch.Tensor]
    optimizer_rest: Any
    rng: dict[str, torch.Tensor]
    best: dict[str, torch.Tensor] | None
    state: dict[str, Any]


def read_checkpoint(folder: Path) -> Checkpoint:
    """The checkpoint in ``folder``.

    Raises:
        TailorError: a file of it is missing, truncated or overwritten.
    """
    best_file = folder / "best.safetensors"
    try:
        raw = read_json(folder / "state.json")
        return Checkpoint(
            model=load_tensors(folder / "model.safetensors"),
            optimizer=load_tensors(folder / "optimizer.safetensors"),
            optimizer_rest=raw.pop("optimizer"),
            rng=load_tensors(folder / "rng.safetensors"),
            best=load_tensors(best_file) if best_file.exists() else None,
            state=raw,
        )
    except (OSError, SafetensorError, ValueError, KeyError, AttributeError) as err:
        raise TailorError(
            f"the checkpoint in '{folder}' is corrupt or incomplete ({type(err).__name__}: "
            f"{err}). Delete that folder to train from epoch 1, or train without --resume."
        ) from None


def restore_checkpoint(
    checkpoint: Checkpoint, model: nn.Module, optimizer: torch.optim.Optimizer,
    order: torch.Generator,
) -> tuple[TrainState, dict[str, torch.Tensor] | None]:  # fmt: skip
    """Put model, optimizer and random states back; return progress so far.

    Raises:
        TailorError: the checkpoint was written for another network (the
            config changed since) or its files do not fit together.
    """
    if mismatch := shape_mismatch(model.state_dict(), checkpoint.model):
        raise TailorError(
            "the checkpoint to resume from was written for another network (was the config "
            f"changed since?): {mismatch}. Train without --resume to start from epoch 1."
        )
    try:
        model.load_state_dict(checkpoint.model)
        restore_optimizer(optimizer, checkpoint.optimizer, checkpoint.optimizer_rest)
        torch.set_rng_state(checkpoint.rng["torch"])
        order.set_state(checkpoint.rng["order"])
        return TrainState(**checkpoint.state), checkpoint.best
    except (RuntimeError, ValueError, KeyError, TypeError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise TailorError(
            "the checkpoint to resume from does not fit this model (was the config changed "
            f"since it was written?): {first}. Train without --resume to start from epoch 1."
        ) from None
