"""Successive halving over the portfolio, within the budget, resumable.

Every rung trains the surviving candidates on a larger seeded share of the
training rows and promotes the best third by validation quality (when
decisions may not use per-group thresholds, candidates whose own decisions
keep the fairness limits rank ahead of those that do not). Decisions
use measured quality only, never timings; the budget only decides how far
the schedule gets. Each finished trial is appended to
``RUN/search/trials.jsonl``, so a rerun (or ``--resume`` after an
interruption) skips the work already done and reaches the same answer.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tailorml.config import Scenario
from tailorml.match.portfolio import Candidate
from tailorml.match.prepare import Prepared, prepare
from tailorml.match.trial import TrialResult, run_trial, set_threads

ETA = 3  # keep the best third at each rung
Key = tuple[str, int]


@dataclass
class SearchLog:
    """Finished trials by (candidate, rung), and how the search went."""

    path: Path
    results: dict[Key, TrialResult] = field(default_factory=dict)
    rungs: list[dict[str, Any]] = field(default_factory=list)
    stopped_by_budget: bool = False

    @classmethod
    def open(cls, path: Path) -> SearchLog:
        log = cls(path)
        if path.exists():
            for line in path.read_text().splitlines():
                if line.strip():
                    result = TrialResult(**json.loads(line))
                    log.results[(result.name, result.rung)] = result
        return log

    def add(self, result: TrialResult) -> None:
        self.results[(result.name, result.rung)] = result
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as handle:  # one line per trial; a torn last line is dropped
            handle.write(json.dumps(result.to_dict()) + "\n")


def rung_fractions(n_candidates: int) -> list[float]:
    return [1 / ETA, 1.0] if n_candidates > ETA else [1.0]


def promote(finished: list[Candidate], log: SearchLog, rung: int) -> list[Candidate]:
    """The best third: candidates within the fairness limits first (see
    ``trial.within_fairness``), then by quality; ties go to the earlier one."""

    def rank(c: Candidate) -> tuple[bool, float]:
        result = log.results[(c.name, rung)]
        return (not result.within_fairness, -result.quality)

    order = sorted(finished, key=rank)
    return order[: max(1, math.ceil(len(order) / ETA))]


def search(
    data: Prepared,
    candidates: list[Candidate],
    run_dir: Path,
    metric: str,
    on_result: Callable[[TrialResult], None] = lambda r: None,
) -> tuple[list[Candidate], SearchLog]:
    """Run the schedule; return the finalists (trained on all rows, saved in
    ``RUN/candidates/NAME``) and the log."""
    scenario = data.scenario
    log = SearchLog.open(run_dir / "search" / "trials.jsonl")
    deadline = time.monotonic() + scenario.budget.seconds
    fractions = rung_fractions(len(candidates))
    alive = candidates
    for rung, fraction in enumerate(fractions):
        final = rung == len(fractions) - 1
        todo = [
            c
            for c in alive
            if (c.name, rung) not in log.results or (final and not saved(run_dir, c))
        ]
        todo = cap_trials(todo, log, scenario.budget.max_trials)
        jobs = [(c, rung, fraction, metric, run_dir / "candidates" / c.name if final else None)
                for c in todo]  # fmt: skip
        for result in run_jobs(jobs, data, scenario, deadline, log):
            log.add(result)
            on_result(result)
        finished = [c for c in alive if (c.name, rung) in log.results]
        log.stopped_by_budget |= len(finished) < len(alive)
        promoted = finished if final else promote(finished, log, rung)
        log.rungs.append({"rung": rung, "fraction": fraction,
                          "trained": [c.name for c in finished],
                          "promoted": [c.name for c in promoted]})  # fmt: skip
        alive = promoted
    finalists = [c for c in alive if saved(run_dir, c)]
    return finalists, log


def saved(run_dir: Path, candidate: Candidate) -> bool:
    return (run_dir / "candidates" / candidate.name / "model.json").exists()


def cap_trials(todo: list[Candidate], log: SearchLog, max_trials: int | None) -> list[Candidate]:
    if max_trials is None:
        return todo
    return todo[: max(0, max_trials - len(log.results))]


Job = tuple[Candidate, int, float, str, Path | None]


def run_jobs(
    jobs: list[Job], data: Prepared, scenario: Scenario, deadline: float, log: SearchLog
) -> Iterator[TrialResult]:
    """Run trials serially or on a process pool, until the deadline."""
    workers = scenario.budget.workers
    if workers == 1 or len(jobs) <= 1:
        for job in jobs:
            if time.monotonic() > deadline:
                return
            yield run_trial(job[0], data, *job[1:])
        return
    context = multiprocessing.get_context("spawn")
    init_args = (scenario.model_dump(mode="json"), workers)
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                             initargs=init_args) as pool:  # fmt: skip
        pending: set[Future[TrialResult]] = {pool.submit(_worker_trial, *job) for job in jobs}
        while pending:
            done, pending = wait(pending, timeout=1.0, return_when=FIRST_COMPLETED)
            yield from (future.result() for future in done)
            if time.monotonic() > deadline:
                for future in pending:
                    future.cancel()
                pending = {f for f in pending if not f.cancelled()}


_WORKER_DATA: Prepared | None = None


def _init_worker(scenario: dict[str, Any], workers: int) -> None:
    global _WORKER_DATA
    set_threads(workers)
    _WORKER_DATA = prepare(Scenario.model_validate(scenario))


def _worker_trial(candidate: Candidate, rung: int, fraction: float, metric: str,
                  save_to: Path | None) -> TrialResult:  # fmt: skip
    assert _WORKER_DATA is not None
    return run_trial(candidate, _WORKER_DATA, rung, fraction, metric, save_to)
