"""A rich progress bar for training: epoch, step, loss, metric, samples/s, ETA."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)


@contextmanager
def counting(label: str, total: int, quiet: bool = False) -> Iterator[Callable[[int], None]]:
    """A bar counting rows done (texts embedded, say), with rows/s and ETA.

    Yields a function that advances the bar by a number of rows.
    """
    bar = Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}/s"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=quiet,
    )
    task = bar.add_task(label, total=total, rate="-")
    start = time.perf_counter()

    def advance(rows: int) -> None:
        done = bar.tasks[0].completed + rows
        rate = f"{done / max(time.perf_counter() - start, 1e-9):,.0f}"
        bar.update(task, advance=rows, rate=rate)

    with bar:
        yield advance


class TrainingProgress:
    """Shows one bar per epoch; silent when ``quiet``."""

    def __init__(self, epochs: int, steps: int, quiet: bool = False):
        self.epochs = epochs
        self.steps = steps
        self.quiet = quiet
        self.bar = Progress(
            TextColumn("epoch {task.fields[epoch]}/{task.fields[epochs]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}"),
            TextColumn("{task.fields[metric]}"),
            TextColumn("{task.fields[rate]} samples/s"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            disable=quiet,
            transient=False,
        )
        self.task = self.bar.add_task(
            "train", total=steps, epoch=0, epochs=epochs, loss="-", metric="", rate="-"
        )

    def __enter__(self) -> TrainingProgress:
        self.bar.__enter__()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.bar.__exit__(kind, error, trace)

    def start_epoch(self, epoch: int) -> None:
        if not self.quiet:
            self.bar.reset(self.task, total=self.steps)
            self.bar.update(self.task, epoch=epoch, metric="")

    def step(self, loss: float | None = None, rate: float | None = None) -> None:
        if self.quiet:
            return
        fields: dict[str, Any] = {}
        if loss is not None:
            fields["loss"] = f"{loss:.4f}"
        if rate is not None:
            fields["rate"] = f"{rate:,.0f}"
        self.bar.update(self.task, advance=1, **fields)

    def end_epoch(self, summary: dict[str, float]) -> None:
        if self.quiet:
            return
        shown = "  ".join(f"{k} {v:.4f}" for k, v in summary.items() if k.startswith("val_"))
        self.bar.update(self.task, metric=shown)
        self.bar.console.print(
            f"epoch {int(summary['epoch'])}: "
            + "  ".join(f"{k} {v:.4f}" for k, v in summary.items() if k != "epoch")
        )
