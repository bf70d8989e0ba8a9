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
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tailorml.match.backends import Backend, trial_runner
from tailorml.match.portfolio import Candidate
from tailorml.match.prepare import Prepared
from tailorml.match.trial import TrialResult
from tailorml.records.match import Rung

ETA = 3  # keep the best third at each rung
Key = tuple[str, int]


@dataclass
class SearchLog:
    """Finished trials by (candidate, rung), and how the search went."""

    path: Path
    results: dict[Key, TrialResult] = field(default_factory=dict)
    rungs: list[Rung] = field(default_factory=list)
    stopped_by_budget: bool = False

    @classmethod
    def open(cls, path: Path) -> SearchLog:
        lines = path.read_text().splitlines() if path.exists() else []
        results = [TrialResult(**json.loads(line)) for line in lines if line.strip()]
        return cls(path, {(r.name, r.rung): r for r in results})

    def add(self, result: TrialResult) -> None:
        self.results[(result.name, result.rung)] = result
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as handle:  # one line per trial; a torn last line is dropped
            handle.write(json.dumps(asdict(result)) + "\n")


def promote(finished: list[Candidate], log: SearchLog, rung: int) -> list[Candidate]:
    """The best third: candidates within the fairness limits first (see
    ``trial.within_fairness``), then by quality; ties go to the earlier one."""

    def rank(c: Candidate) -> tuple[bool, float]:
        result = log.results[(c.name, rung)]
        return (not result.within_fairness, -result.quality)

    order = sorted(finished, key=rank)
    return order[: max(1, math.ceil(len(order) / ETA))]


def search(
    data: Prepared, candidates: list[Candidate], run_dir: Path, metric: str,
    on_result: Callable[[TrialResult], None] = lambda r: None, backend: Backend = Backend(),
) -> tuple[list[Candidate], SearchLog]:  # fmt: skip
    """Run the schedule on ``backend``; return the finalists (trained on all rows,
    saved in ``RUN/candidates/NAME``) and the log."""
    scenario = data.scenario
    log = SearchLog.open(run_dir / "search" / "trials.jsonl")
    deadline = time.monotonic() + scenario.budget.seconds
    fractions = [1 / ETA, 1.0] if len(candidates) > ETA else [1.0]  # the training rows per rung
    alive = candidates
    with trial_runner(backend, data) as run_jobs:
        for rung, fraction in enumerate(fractions):
            final = rung == len(fractions) - 1
            todo = [
                c
                for c in alive
                if (c.name, rung) not in log.results or (final and not saved(run_dir, c))
            ]
            if scenario.budget.max_trials is not None:
                todo = todo[: max(0, scenario.budget.max_trials - len(log.results))]
            jobs = [(c, rung, fraction, metric, run_dir / "candidates" / c.name if final else None)
                    for c in todo]  # fmt: skip
            for result in run_jobs(jobs, deadline):
                log.add(result)
                on_result(result)
            finished = [c for c in alive if (c.name, rung) in log.results]
            log.stopped_by_budget |= len(finished) < len(alive)
            promoted = finished if final else promote(finished, log, rung)
            log.rungs.append(Rung(rung=rung, fraction=fraction, trained=[c.name for c in finished],
                                  promoted=[c.name for c in promoted]))  # fmt: skip
            alive = promoted
    finalists = [c for c in alive if saved(run_dir, c)]
    return finalists, log


def saved(run_dir: Path, candidate: Candidate) -> bool:
    return (run_dir / "candidates" / candidate.name / "model.json").exists()
