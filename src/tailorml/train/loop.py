"""The training loop: plain PyTorch, no per-step host syncs beyond the bar.

Data lives in memory as tensors; each epoch draws a permutation from a seeded
generator and slices batches from it, exactly what a hand-written loop does.
Under ``tailor train --nproc N`` every rank runs this loop on its share of the
rows (see ``train/distributed.py``).
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from tailorml.config import TrainingConfig
from tailorml.features import Encoded
from tailorml.features.outputs import OUTPUT_TYPES
from tailorml.models.model import Network
from tailorml.train.checkpoint import (
    TrainState,
    read_checkpoint,
    restore_checkpoint,
    save_checkpoint,
)
from tailorml.train.distributed import (
    World,
    check_single_process_options,
    current_world,
    data_parallel,
    rank_batch_size,
    rank_rows,
    shared,
    summed,
)
from tailorml.train.frozen import EMBED_BATCH, embed_frozen_costed
from tailorml.train.losses import LossFn, make_loss
from tailorml.train.precision import autocast, resolve_device, to_device
from tailorml.train.progress import TrainingProgress

if TYPE_CHECKING:
    from tailorml.records.metrics import Privacy
    from tailorml.train.privacy import PrivateTraining

BAR_EVERY = 10  # steps between loss read-outs on the bar
BUCKET_POOL = 50  # batches sorted by length together (see ``bucketed``)
Step = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # a step's mean loss, outputs, targets


def make_optimizer(model: nn.Module, cfg: TrainingConfig) -> torch.optim.Optimizer:
    """The configured optimizer; each parameter group remembers its ``base_lr``,
    which the schedule scales (pretrained encoders set their own rates)."""
    if isinstance(model, Network):
        groups = model.parameter_groups(cfg.learning_rate)
    else:
        groups = [([p for p in model.parameters() if p.requires_grad], cfg.learning_rate)]
    params: list[dict[str, Any]] = [
        {"params": group, "lr": rate, "base_lr": rate} for group, rate in groups
    ]
    # fused: one kernel over all parameters, 6× the default's speed on a CPU
    if cfg.optimizer in ("adam", "adamw"):
        adam = torch.optim.Adam if cfg.optimizer == "adam" else torch.optim.AdamW
        return adam(params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay, fused=True)
    return torch.optim.SGD(
        params, lr=cfg.learning_rate, momentum=cfg.momentum, weight_decay=cfg.weight_decay
    )


def lengths_of(model: nn.Module, inputs: dict[str, torch.Tensor]) -> torch.Tensor | None:
    """Tokens per row ``(N,)`` for a network whose cost grows with them, else None."""
    return model.lengths(inputs) if isinstance(model, Network) else None


def lr_at(epoch: int, cfg: TrainingConfig) -> float:
    """Learning rate for a 0-based epoch: warm-up, then the schedule."""
    base = cfg.learning_rate
    if epoch < cfg.warmup_epochs:
        return base * (epoch + 1) / (cfg.warmup_epochs + 1)
    t = epoch - cfg.warmup_epochs
    if cfg.lr_schedule == "cosine":
        span = max(1, cfg.epochs - cfg.warmup_epochs)
        return base * 0.5 * (1 + math.cos(math.pi * t / span))
    if cfg.lr_schedule == "step":
        return base * cfg.lr_gamma ** (t // cfg.lr_step_epochs)
    if cfg.lr_schedule == "exponential":
        return base * cfg.lr_gamma**t
    return base


def take(data: Encoded, index: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    inputs = {name: t.index_select(0, index) for name, t in data.inputs.items()}
    assert data.target is not None
    return inputs, data.target.index_select(0, index)


def bucketed(
    order: torch.Tensor, lengths: torch.Tensor, size: int, generator: torch.Generator
) -> list[torch.Tensor]:
    """Batches of rows of similar length, still in random order.

    The shuffled rows are cut into pools of ``BUCKET_POOL`` batches; each pool
    is sorted by length and cut into batches, and all batches are shuffled.
    """
    batches: list[torch.Tensor] = []
    pool = size * BUCKET_POOL
    for begin in range(0, len(order), pool):
        rows = order[begin : begin + pool]
        rows = rows[torch.argsort(lengths[rows], stable=True)]
        batches += [rows[i : i + size] for i in range(0, len(rows), size)]
    shuffle = torch.randperm(len(batches), generator=generator)
    return [batches[int(i)] for i in shuffle]


def weighted(loss_fn: LossFn, weights: torch.Tensor, index: torch.Tensor) -> LossFn:
    """The batch's mean of per-row losses times the rows' weights."""
    batch_weights = weights.index_select(0, index)
    return lambda out, y: (loss_fn(out, y) * batch_weights.to(y.device)).mean()


def device_of(model: nn.Module) -> torch.device:
    return next(model.parameters(), torch.empty(0)).device


@torch.inference_mode()
def predict_outputs(
    model: nn.Module, inputs: dict[str, torch.Tensor], batch_size: int, precision: str = "fp32",
    length_batch: int | None = None,
) -> torch.Tensor:  # fmt: skip
    """Raw model outputs for every row, in order, batched, on the CPU.

    The batches run on the model's device. Rows of a model whose cost grows
    with text length go through in order of length, at most ``length_batch``
    (default ``EMBED_BATCH``) at a time (each batch then pads little), and come
    back in their own order.
    """
    model.eval()
    device = device_of(model)
    n = len(next(iter(inputs.values())))
    lengths = lengths_of(model, inputs)
    order = torch.arange(n) if lengths is None else torch.argsort(lengths, stable=True)
    if lengths is not None:
        batch_size = min(batch_size, length_batch or EMBED_BATCH)  # a big one pads to its longest
    chunks = []
    for start in range(0, n, batch_size):
        index = order[start : start + batch_size]
        batch = {k: v.index_select(0, index) for k, v in inputs.items()}
        with autocast(precision, device):
            chunks.append(model(to_device(batch, device)).float().cpu())
    out = torch.cat(chunks)
    return torch.empty_like(out).index_copy_(0, order, out)


def evaluate_loss(
    model: nn.Module,
    data: Encoded,
    kind: str,
    loss_fn: LossFn,
    cfg: TrainingConfig,
    world: World = World(),
) -> dict[str, float]:
    """Mean loss and the kind's metric over a whole split.

    Each rank scores every ``world.size``-th row and the sums are added up
    across ranks, so every rank gets the figures of the whole split.
    """
    assert data.target is not None
    inputs, target = data.inputs, data.target
    if world.size > 1:
        index = torch.arange(world.rank, len(data), world.size)
        inputs, target = take(data, index)
    out = predict_outputs(model, inputs, cfg.eval_batch_size, cfg.precision)
    loss = loss_fn(out, target) * len(target)
    error = (out.reshape(-1) - target).abs().sum() if kind == "number" else torch.zeros(())
    sums = [loss, error, OUTPUT_TYPES[kind].count_correct(out, target), torch.tensor(len(target))]
    loss_sum, error_sum, correct, rows = summed(sums, world, device_of(model))
    metric, total = ("mae", error_sum) if kind == "number" else ("accuracy", correct)
    return {"loss": loss_sum / rows, metric: total / rows}


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Keep the garbage collector off the objects that exist before training.

    Data frames and configs hold many long-lived Python objects; without
    this, every full collection during training walks them all again.
    """
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


class Trainer:
    """Fits a model on encoded splits, with checkpoints and early stopping.

    With ``cfg.privacy`` set it trains with DP-SGD (see ``train/privacy.py``) on
    an Opacus-compatible copy of the model, ``net``, and copies the weights back
    into ``model`` at the end; ``privacy`` then holds the ε spent and the noise.

    Training runs on ``cfg.device`` (a GPU when there is one, unless the config
    says cpu; DP-SGD stays on the CPU); the model is back on the CPU when
    ``fit`` returns. In a process group (``tailor train --nproc``) every rank
    trains its share of each batch and only rank 0 writes checkpoints.

    Args:
        kind: output kind (category | binary | number).
        checkpoint_dir: where to write a checkpoint after every epoch, or None.

    Raises:
        ConfigError: privacy is asked for with settings or layers DP-SGD cannot
            train, or with several processes; the batch does not divide across them.
    """

    def __init__(
        self,
        model: nn.Module,
        kind: str,
        cfg: TrainingConfig,
        checkpoint_dir: Path | None = None,
        quiet: bool = False,
    ):
        self.model = model
        self.kind = kind
        self.cfg = cfg
        self.checkpoint_dir = checkpoint_dir
        self.quiet = quiet
        self.loss_fn = make_loss(kind, cfg.loss)
        self.row_loss_fn = make_loss(kind, cfg.loss, reduction="none")
        self.net = model  # what trains: the model itself unless privacy needs a copy
        self.private: PrivateTraining | None = None
        self.privacy: Privacy | None = None  # ε spent and the DP-SGD settings, after fit
        self.world = current_world()
        self.batch_size = rank_batch_size(cfg.batch_size, self.world.size)
        self.device = resolve_device("cpu" if cfg.privacy is not None else cfg.device)
        if cfg.privacy is not None:
            from tailorml.train import privacy  # imports Opacus, only when asked for

            privacy.check_settings(cfg)
            check_single_process_options(cfg, self.world.size)
            self.net = privacy.compatible_copy(model)
        self.net.to(self.device)  # before the optimizer, whose state then lives there too
        self.stepper = self.net  # what the training steps call: the network, or DDP over it
        self.optimizer = make_optimizer(self.net, cfg)
        self.order = torch.Generator().manual_seed(cfg.seed)
        self.state = TrainState(epoch=0, history=[], best_loss=None, best_epoch=0, stale_epochs=0)
        self.best: dict[str, torch.Tensor] | None = None

    def resume(self) -> bool:
        """Continue from the last checkpoint, if there is one (rank 0's, on every rank)."""
        folder = self.checkpoint_dir
        found = self.world.main and folder is not None and (folder / "state.json").exists()
        checkpoint = read_checkpoint(folder) if found and folder is not None else None
        checkpoint = shared(checkpoint, self.world)
        if checkpoint is None:
            return False
        self.state, self.best = restore_checkpoint(checkpoint, self.net, self.optimizer, self.order)
        return True

    def fit(self, train: Encoded, validation: Encoded | None) -> list[dict[str, float]]:
        """Train until the epochs run out or validation loss stops improving.

        Frozen pretrained encoders embed both splits once, before the first
        epoch (cached on disk, see ``train/frozen.py``).
        """
        train = self._embedded(train)
        validation = self._embedded(validation) if validation is not None else None
        steps = len(self._batches(train, peek=True))
        if self.cfg.privacy is not None:
            steps = len(self._make_private(train).loader)
        if self.world.size > 1:
            self.stepper = data_parallel(self.net, self.device)
        quiet = self.quiet or not self.world.main
        with frozen_heap(), TrainingProgress(self.cfg.epochs, steps, quiet) as bar:
            while self.state.epoch < self.cfg.epochs and not self._should_stop():
                summary = self._run_epoch(train, validation, bar)
                self._track_best(summary)
                self.state.history.append(summary)
                self.state.epoch += 1
                bar.end_epoch(summary)
                self._checkpoint()
        if self.best is not None:
            self.net.load_state_dict(self.best)
        self.stepper = self.net
        self.net.to("cpu")
        if self.private is not None:
            self.privacy = self.private.figures()
            self.model.load_state_dict(self.net.state_dict())
        return self.state.history

    def _embedded(self, data: Encoded) -> Encoded:
        inputs, _ = embed_frozen_costed(self.net, data.inputs, self.cfg.precision, self.quiet)
        return Encoded(inputs, data.target, data.weights)

    def _make_private(self, train: Encoded) -> PrivateTraining:
        """Set up DP-SGD once; on resume, count the epochs already trained."""
        if self.private is None:
            from tailorml.train.privacy import make_private

            self.private = make_private(
                self.net, self.optimizer, train, self.kind, self.cfg, self.order
            )
            self.private.account_for(self.state.epoch)
        return self.private

    def _run_epoch(
        self, train: Encoded, validation: Encoded | None, bar: TrainingProgress
    ) -> dict[str, float]:
        epoch = self.state.epoch
        lr = lr_at(epoch, self.cfg)
        self._scale_lr(lr / self.cfg.learning_rate)
        bar.start_epoch(epoch + 1)
        self.net.train()
        start = time.perf_counter()
        private = self.private
        if private is None:
            steps = self._train_steps(train)
        else:  # DP-SGD over Poisson-sampled batches
            steps = ((*private.step(inputs, y), y) for inputs, y in private.loader)
        loss_sum, correct, rows = self._sum_steps(steps, bar, start)
        seconds = time.perf_counter() - start
        summed_loss, summed_correct, all_rows = summed(
            [loss_sum, correct, torch.tensor(rows)], self.world, self.device
        )
        rows = int(all_rows)
        summary = {
            "epoch": float(epoch + 1),
            "train_loss": summed_loss / max(rows, 1),
            "lr": lr,
            "seconds": seconds,
            "samples_per_s": rows / seconds,
        }
        if self.kind != "number":
            summary["train_accuracy"] = summed_correct / max(rows, 1)
        if self.private is not None:
            summary["epsilon"] = self.private.epsilon()
        if validation is not None:
            scores = evaluate_loss(
                self.net, validation, self.kind, self.loss_fn, self.cfg, self.world
            )
            summary.update({f"val_{k}": v for k, v in scores.items()})
        return summary

    def _scale_lr(self, factor: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = group["base_lr"] * factor

    def _sum_steps(
        self, steps: Iterator[Step], bar: TrainingProgress, start: float
    ) -> tuple[torch.Tensor, torch.Tensor, int]:
        """Run one epoch's steps; returns loss sum, correct answers and rows seen."""
        loss_sum = torch.zeros((), device=self.device)
        correct = torch.zeros((), dtype=torch.int64, device=self.device)
        rows = 0
        for step, (loss, out, y) in enumerate(steps):
            if len(y):  # a Poisson batch can be empty
                loss_sum.add_(loss, alpha=len(y))
                correct.add_(OUTPUT_TYPES[self.kind].count_correct(out, y))
                rows += len(y)
            if step % BAR_EVERY == 0:
                bar.step(float(loss), rows / (time.perf_counter() - start))
            else:
                bar.step()
        return loss_sum, correct, rows

    def _train_steps(self, train: Encoded) -> Iterator[Step]:
        """One epoch of steps over this rank's batches."""
        batches = self._batches(train)
        epoch_lr = lr_at(self.state.epoch, self.cfg) / self.cfg.learning_rate
        for step, index in enumerate(batches):
            seen = self.state.epoch * len(batches) + step  # optimizer steps before this one
            if seen < self.cfg.warmup_steps:
                self._scale_lr(epoch_lr * (seen + 1) / (self.cfg.warmup_steps + 1))
            elif seen == self.cfg.warmup_steps > 0:
                self._scale_lr(epoch_lr)
            inputs, y = take(train, index)
            inputs, y = to_device(inputs, self.device), y.to(self.device)
            loss_fn = self.loss_fn
            if train.weights is not None:
                loss_fn = weighted(self.row_loss_fn, train.weights, index)
            with autocast(self.cfg.precision, self.device):
                out = self.stepper(inputs)
                loss = loss_fn(out.float(), y)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if self.cfg.gradient_clipping is not None:
                nn.utils.clip_grad_norm_(self.net.parameters(), self.cfg.gradient_clipping)
            self.optimizer.step()
            yield loss.detach(), out.detach(), y

    def _batches(self, train: Encoded, peek: bool = False) -> list[torch.Tensor]:
        """This epoch's batches of row indices, from the seeded generator.

        A random permutation cut into batches; for a model whose cost grows
        with text length, rows of similar length are batched together first
        (``bucketed``), so each batch pads little. Under several processes the
        permutation is this rank's share (``rank_rows``) and each batch holds
        this rank's part of the global batch. ``peek`` leaves the generator
        untouched (to count the batches).
        """
        n, size = len(train), self.batch_size
        generator = torch.Generator().manual_seed(0) if peek else self.order
        if self.world.size > 1:
            order = rank_rows(n, self.world, self.cfg.seed, self.state.epoch)
        else:
            order = torch.randperm(n, generator=generator)
        lengths = lengths_of(self.net, train.inputs)
        if lengths is not None:
            return bucketed(order, lengths, size, generator)
        return [order[begin : begin + size] for begin in range(0, len(order), size)]

    def _track_best(self, summary: dict[str, float]) -> None:
        if self.cfg.early_stopping_patience is None or "val_loss" not in summary:
            return
        loss = summary["val_loss"]
        if self.state.best_loss is None or loss < self.state.best_loss:
            self.state.best_loss = loss
            self.state.best_epoch = int(summary["epoch"])
            self.state.stale_epochs = 0
            state = self.net.state_dict().items()
            self.best = {k: v.detach().to("cpu", copy=True) for k, v in state}
        else:
            self.state.stale_epochs += 1

    def _should_stop(self) -> bool:
        patience = self.cfg.early_stopping_patience
        return patience is not None and self.state.stale_epochs >= patience

    def _checkpoint(self) -> None:
        if self.checkpoint_dir is not None and self.world.main:
            save_checkpoint(
                self.checkpoint_dir, self.net, self.optimizer, self.order, self.best, self.state
            )
