"""``tailor match``: scenario → portfolio → search → measure → select → ship."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

from rich.console import Console
from rich.live import Live
from rich.table import Table

from tailorml.config import Scenario, load_config
from tailorml.errors import ConfigError
from tailorml.io import replace_dir, staging_dir
from tailorml.match.assess import assess, split_figures
from tailorml.match.backends import Backend
from tailorml.match.constraints import check_constraints, default_metric, why_rejected
from tailorml.match.portfolio import Candidate, build_portfolio
from tailorml.match.prepare import Prepared, prepare
from tailorml.match.search import SearchLog, search
from tailorml.match.select import MINIMISE, Selection, select
from tailorml.match.trial import TrialResult
from tailorml.records import match as record
from tailorml.records.audit import SmallGroup
from tailorml.runs.run import Run, load


def load_scenario(scenario: Scenario | str | Path) -> Scenario:
    return scenario if isinstance(scenario, Scenario) else load_config(scenario, Scenario)


def run_match(
    scenario: Scenario | str | Path,
    output: str | Path,
    *,
    workers: int | None = None,
    quiet: bool = False,
    backend: Backend = Backend(),
) -> record.MatchResult:
    """:func:`tailorml.pipelines.match` without the report and the model card (the answer
    is the same whichever ``backend`` runs the trials)."""
    spec = load_scenario(scenario)
    if workers is not None:
        if workers < 1:
            raise ConfigError(f"workers takes a number of processes ≥ 1, not {workers}.")
        spec = spec.model_copy(
            update={"budget": spec.budget.model_copy(update={"workers": workers})}
        )
    run_dir = Path(output)
    started = time.monotonic()
    data = prepare(spec)
    for line in [] if quiet else data.role_notes():  # inferred inputs left out, and why
        Console(stderr=True).print(f"warning: {line}", markup=False, highlight=False)
    rows = len(data.frames["train"])
    portfolio, reasons = build_portfolio(
        data.features.metas(), rows, spec.budget.seconds, spec.constraints.max_epsilon,
        spec.constraints.fairness, data.features.target.kind == "binary",
    )  # fmt: skip
    metric = default_metric(spec)
    with search_table(portfolio, quiet) as update:
        finalists, log = search(data, portfolio, run_dir, metric, update, backend)
    entries = [measure_candidate(c, data, log, run_dir) for c in finalists]
    selection = select(entries)
    result = summary(spec, data, portfolio, reasons, log, entries, selection, started, backend)
    if selection.recommended is not None:
        result.test = ship(run_dir, selection.recommended, data, entries)
    result.small_groups = small_groups(result)
    result.write(run_dir / "match.json")
    return result


def measure_candidate(
    candidate: Candidate, data: Prepared, log: SearchLog, run_dir: Path
) -> record.CandidateResult:
    rung = max(r for (name, r) in log.results if name == candidate.name)
    seconds = log.results[(candidate.name, rung)].train_seconds
    _, metrics = assess(run_dir / "candidates" / candidate.name, data, seconds)
    checks = check_constraints(data.scenario, metrics)
    feasible = all(c.passed for c in checks.values())
    conflict = [] if feasible or metrics.tuning is None else metrics.tuning.conflict
    return record.CandidateResult(
        name=candidate.name, family=candidate.family, params=candidate.params,
        status="finished", metrics=metrics, constraints=checks, feasible=feasible,
        value_per_1k=metrics.value_per_1k, rejected_because=why_rejected(checks) + conflict,
    )  # fmt: skip


def small_groups(result: record.MatchResult) -> dict[str, dict[str, list[SmallGroup]]]:
    """Per split and fairness limit, the groups too small to judge (count, rates with
    intervals) under the recommended candidate's decisions (else the first one's)."""
    chosen = result.chosen or next(iter(result.candidates), None)
    splits = {"validation": chosen.metrics.limits if chosen else {},
              "test": result.test.metrics.limits if result.test else {}}  # fmt: skip
    return {
        split: {name: limit.too_small for name, limit in limits.items() if limit.too_small}
        for split, limits in splits.items()
    }


def ship(
    run_dir: Path, name: str, data: Prepared, entries: list[record.CandidateResult]
) -> record.TestCheck:
    """Copy the pick to ``RUN/recommended`` and re-measure it on test."""
    staging = staging_dir(run_dir / "recommended")
    shutil.rmtree(staging)
    shutil.copytree(run_dir / "candidates" / name, staging)
    replace_dir(staging, run_dir / "recommended")
    run: Run = load(run_dir / "recommended")
    figures = split_figures(run, data.scenario, data.frames["test"], "test")
    chosen = next(e for e in entries if e.name == name)
    # cost figures carry over from validation
    measured = record.Figures.model_validate(chosen.metrics.dump() | figures.dump())
    checks = check_constraints(data.scenario, measured)
    return record.TestCheck(metrics=figures, constraints=checks, fairness=figures.fairness or None)


def summary(
    spec: Scenario, data: Prepared, portfolio: list[Candidate], reasons: list[str],
    log: SearchLog, entries: list[record.CandidateResult], selection: Selection, started: float,
    backend: Backend,
) -> record.MatchResult:  # fmt: skip
    eliminated = [c.name for c in portfolio if c.name not in {e.name for e in entries}]
    notes = [f"Eliminated by successive halving (or the budget) before the last rung: "
             f"{', '.join(eliminated)}."] if eliminated else []  # fmt: skip
    rows = {k: len(v) for k, v in data.frames.items()}
    columns = [record.ColumnFacts(**asdict(role)) for role in data.roles]  # none: input_features
    search = record.SearchFacts(
        seed=spec.seed, budget_s=spec.budget.seconds, elapsed_s=time.monotonic() - started,
        rungs=log.rungs, completed_trials=len(log.results),
        stopped_by_budget=log.stopped_by_budget, backend=backend.name,
    )  # fmt: skip
    return record.MatchResult(
        scenario=record.ScenarioFacts.model_validate(spec.model_dump(mode="json")),
        data=record.MatchData(rows=rows, dropped_rows=data.dropped_rows, columns=columns),
        portfolio=record.Portfolio(reasons=reasons, candidates=[c.name for c in portfolio]),
        search=search,
        candidates=entries,
        **asdict(selection) | {"reasoning": selection.reasoning + notes},  # the pick and why
        pareto_axes=record.ParetoAxes(maximise=["quality"], minimise=list(MINIMISE)),
    )


@contextmanager
def search_table(
    portfolio: list[Candidate], quiet: bool
) -> Iterator[Callable[[TrialResult], None]]:
    """A live rich table of the search, one row per candidate and rung; yields its update."""
    rows: dict[str, dict[int, str]] = {c.name: {} for c in portfolio}
    families = {c.name: c.family for c in portfolio}

    def render() -> Table:
        table = Table("candidate", "family", "rung 0", "rung 1", "train s", title="search")
        for name, rungs in rows.items():
            table.add_row(name, families[name], rungs.get(0, "…"), rungs.get(1, ""),
                          rungs.get(-1, ""))  # fmt: skip
        return table

    def update(result: TrialResult) -> None:
        rows[result.name][result.rung] = f"{abs(result.quality):.4f}"
        rows[result.name][-1] = f"{result.train_seconds:.1f}"
        if not quiet:
            live.update(render())

    live = Live(render(), console=Console(stderr=True), refresh_per_second=4, transient=False)
    if quiet:
        yield update
        return
    try:
        with live:
            yield update
    finally:
        live.console.print()
