"""Where the trials of a search run: here, on a local process pool, or on Ray.

Every backend runs the same ``run_trial`` on the same jobs, so the schedule
and the results of a search do not depend on where it ran; only the time
does. ``local`` is the default: one trial after another, or a pool of
``budget.workers`` processes. ``ray`` sends each trial to a Ray cluster as a
task (see ``match/on_ray.py``), connected once per search.
"""

from __future__ import annotations

import importlib
import multiprocessing
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import closing, contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Literal

import torch

from tailorml.config import Scenario
from tailorml.features.base import PREPROCESSORS
from tailorml.features.outputs import OUTPUT_TYPES
from tailorml.io import JSONObject
from tailorml.match.portfolio import Candidate
from tailorml.match.prepare import Prepared, prepare
from tailorml.match.trial import Job, TrialResult, core_share, run_trial
from tailorml.models.family import FAMILIES
from tailorml.models.registry import COMBINERS, DECODERS, ENCODERS

Runner = Callable[[list[Job], float], Iterator[TrialResult]]  # (jobs, deadline) → results


@dataclass(frozen=True)
class Backend:
    """``local`` (this machine) or ``ray`` (a cluster at ``address``; none
    starts a Ray instance on this machine)."""

    name: Literal["local", "ray"] = "local"
    address: str | None = None


@contextmanager
def trial_runner(backend: Backend, data: Prepared) -> Iterator[Runner]:
    """What runs a search's trials on ``backend``, rung after rung; it yields each
    result as it finishes (and saves a finalist's bundle where its job says)."""
    if backend.name == "ray":
        from tailorml.match.on_ray import RaySession

        with closing(RaySession(data, backend.address)) as session:
            yield session.run
    else:
        yield partial(run_local, data=data)


def run_local(jobs: list[Job], deadline: float, data: Prepared) -> Iterator[TrialResult]:
    """Trials one after another, or on a pool of ``budget.workers`` processes."""
    workers = data.scenario.budget.workers
    if workers == 1 or len(jobs) <= 1:
        for job in jobs:
            if time.monotonic() > deadline:
                return
            yield run_trial(job[0], data, *job[1:])
        return
    context = multiprocessing.get_context("spawn")  # each worker prepares the data itself
    init_args = (data.scenario.model_dump(mode="json"), workers, plugin_modules())
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                             initargs=init_args) as pool:  # fmt: skip
        pending: set[Future[TrialResult]] = {pool.submit(_worker_trial, *job) for job in jobs}
        while pending:
            done, pending = wait(pending, timeout=1.0, return_when=FIRST_COMPLETED)
            yield from (future.result() for future in done)
            if time.monotonic() > deadline:  # queued trials are dropped, running ones finish
                pending = {f for f in pending if not f.cancel()}


_WORKER_DATA: Prepared | None = None


def plugin_modules() -> list[str]:
    """The modules outside tailorml that registered plug-ins (families, encoders,
    decoders, combiners, output types, preprocessors). A spawned worker imports
    them, so a plug-in registered by the caller's own code is known there too
    (``__main__`` is re-run by spawn itself)."""
    classes = [
        *(type(family) for family in FAMILIES.values()),
        *(entry.cls for entry in ENCODERS.values()),
        *DECODERS.values(), *COMBINERS.values(), *PREPROCESSORS.values(),
        *(type(output) for output in OUTPUT_TYPES.values()),
    ]  # fmt: skip
    names = {cls.__module__ for cls in classes}
    return sorted(n for n in names if n.split(".")[0] != "tailorml" and n != "__main__")


def _init_worker(scenario: JSONObject, workers: int, plugins: list[str]) -> None:
    global _WORKER_DATA
    for module in plugins:
        importlib.import_module(module)
    torch.set_num_threads(core_share(workers))
    _WORKER_DATA = prepare(Scenario.model_validate(scenario))


def _worker_trial(candidate: Candidate, rung: int, fraction: float, metric: str,
                  save_to: Path | None) -> TrialResult:  # fmt: skip
    assert _WORKER_DATA is not None
    return run_trial(candidate, _WORKER_DATA, rung, fraction, metric, save_to)
