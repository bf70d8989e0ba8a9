"""Progress while training and embedding: a live bar on a terminal, plain lines in a log.

On a terminal (or in Jupyter) rich draws a bar that redraws in place. Anywhere
else (CI, nohup, a pipe) redraws would fill the log with carriage returns and
escape codes, so training prints one line per epoch and counting prints a start
and a final line. Both modes print the epoch line from ``epoch_line``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)


def significant(value: float, digits: int = 3) -> str:
    """``value`` rounded to ``digits`` significant digits, without trailing zeros.

    0.15943 → ``0.159``, 12.0 → ``12``, 1234.5 → ``1,230``, 1.234e-05 → ``1.23e-05``.
    """
    if not math.isfinite(value):
        return str(value)
    rounded = float(f"{value:.{digits}g}")
    if abs(rounded) >= 10 ** (digits - 1):
        return f"{rounded:,.0f}"
    return f"{rounded:.{digits}g}"


def throughput(rate: float) -> str:
    """A rate with a thousands separator and no decimals (5900.4 → ``5,900``); a slow
    one (under 10/s) to 2 significant digits, rather than ``0``."""
    return f"{rate:,.0f}" if rate >= 10 else significant(rate, 2)


def duration(seconds: float) -> str:
    """Seconds to 1 decimal (0.734 → ``0.7 s``), or 2 significant digits under 0.1 s."""
    return f"{seconds:.1f} s" if seconds >= 0.1 else f"{significant(seconds, 2)} s"


def epoch_line(
    summary: dict[str, float], epochs: int, previous: dict[str, float] | None = None
) -> str:
    """One readable line for an epoch's summary (a row of the training history).

    ``epoch 3/5  loss 0.159  val_loss 0.171  val_accuracy 0.926  5,900 samples/s  0.7 s``

    Train loss, every validation figure, then speed and time. Train accuracy is
    shown only when there is no validation split, epsilon only under DP-SGD, and
    the learning rate only when it differs from ``previous`` (the summary of the
    epoch before), so a constant rate never lengthens the line.

    Args:
        summary: ``epoch``, ``train_loss``, ``seconds`` and ``samples_per_s``, with
            optionally ``lr``, ``train_accuracy``, ``epsilon`` and ``val_*`` figures.
    """
    parts = [
        f"epoch {int(summary['epoch'])}/{epochs}",
        f"loss {significant(summary['train_loss'])}",
    ]
    validation = [(k, v) for k, v in summary.items() if k.startswith("val_")]
    if not validation and "train_accuracy" in summary:
        parts.append(f"accuracy {significant(summary['train_accuracy'])}")
    parts += [f"{k} {significant(v)}" for k, v in validation]
    if "epsilon" in summary:
        parts.append(f"epsilon {significant(summary['epsilon'])}")
    if "lr" in summary and previous is not None and previous.get("lr") != summary["lr"]:
        parts.append(f"lr {significant(summary['lr'])}")
    parts.append(f"{throughput(summary['samples_per_s'])} samples/s")
    parts.append(duration(summary["seconds"]))
    return "  ".join(parts)


def is_live(console: Console) -> bool:
    """Whether a bar can redraw in place: a real terminal, or a Jupyter notebook."""
    return (console.is_terminal and not console.is_dumb_terminal) or console.is_jupyter


@contextmanager
def counting(label: str, total: int, quiet: bool = False) -> Iterator[Callable[[int], None]]:
    """A bar counting rows done (texts embedded, say), with rows/s and ETA.

    Yields a function that advances the bar by a number of rows. Off a terminal
    it prints ``LABEL: N to do`` and, once done, ``LABEL: N done in 12.3 s (620/s)``.
    """
    console = Console(stderr=True)
    live = not quiet and is_live(console)
    bar = Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}/s"),
        TimeRemainingColumn(),
        console=console,
        disable=not live,
    )
    task = bar.add_task(label, total=total, rate="-")
    start = time.perf_counter()

    def advance(rows: int) -> None:
        done = bar.tasks[0].completed + rows
        rate = throughput(done / max(time.perf_counter() - start, 1e-9))
        bar.update(task, advance=rows, rate=rate)

    printing = not quiet and not live
    if printing:
        console.print(f"{label}: {total:,} to do", soft_wrap=True, highlight=False, markup=False)
    with bar:
        yield advance
    if printing:
        seconds = time.perf_counter() - start
        done = int(bar.tasks[0].completed)
        rate = throughput(done / max(seconds, 1e-9))
        line = f"{label}: {done:,} done in {duration(seconds)} ({rate}/s)"
        console.print(line, soft_wrap=True, highlight=False, markup=False)


class TrainingProgress:
    """One bar per epoch on a terminal, one line per epoch elsewhere; silent when ``quiet``."""

    def __init__(self, epochs: int, steps: int, quiet: bool = False):
        self.epochs = epochs
        self.quiet = quiet
        self.console = Console(stderr=True)
        self.live = not quiet and is_live(self.console)
        self.previous: dict[str, float] | None = None
        self.bar = Progress(
            TextColumn("epoch {task.fields[epoch]}/{task.fields[epochs]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}"),
            TextColumn("{task.fields[metric]}"),
            TextColumn("{task.fields[rate]} samples/s"),
            TimeRemainingColumn(),
            console=self.console,
            disable=not self.live,
        )
        self.task = self.bar.add_task(
            "train", total=steps, epoch=0, epochs=epochs, loss="-", metric="", rate="-"
        )

    def __enter__(self) -> TrainingProgress:
        self.bar.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.bar.stop()

    def start_epoch(self, epoch: int) -> None:
        if self.live:
            self.bar.reset(self.task)
            self.bar.update(self.task, epoch=epoch, metric="")

    def step(self, loss: float | None = None, rate: float = 0.0) -> None:
        """One step done; with ``loss``, show it and the samples/s ``rate``."""
        if not self.live:
            return
        if loss is None:
            self.bar.update(self.task, advance=1)
        else:
            self.bar.update(self.task, advance=1, loss=significant(loss), rate=throughput(rate))

    def end_epoch(self, summary: dict[str, float]) -> None:
        if self.quiet:
            return
        line = epoch_line(summary, self.epochs, self.previous)
        self.previous = summary
        if self.live:
            validation = (
                f"{k} {significant(v)}" for k, v in summary.items() if k.startswith("val_")
            )
            self.bar.update(self.task, metric="  ".join(validation))
        # soft_wrap: a log line is never cut or wrapped at the console's width
        self.console.print(line, soft_wrap=True, highlight=self.live, markup=False)
