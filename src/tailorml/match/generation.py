"""``tailor match`` on a generation scenario (``task: generation``).

Every registered generator family proposes candidates for the budget (the
baselines always; networks as the budget allows); each is trained on the
training pairs, measured on validation (chrF, BLEU, exact match, perplexity,
latency one request at a time, cost per 1,000 generations, size, training
time) and checked against the scenario's constraints. The pick is the
feasible candidate of best validation quality (ties: the cheaper), re-measured
on test. Candidates run one after another; one that would start with less
than a tenth of the budget left is skipped, and says so.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from rich.console import Console

from tailorml.config import ModelConfig, Scenario
from tailorml.config.scenario import LOWER_IS_BETTER
from tailorml.evaluate.measure import cost_per_1k, folder_size_mb, training_cost
from tailorml.features.splits import read_splits
from tailorml.match.constraints import check_constraints, default_metric, why_rejected
from tailorml.models.generation import GENERATORS
from tailorml.models.generation.base import Proposal
from tailorml.records import match as record
from tailorml.runs.generation import GenerationRun, load_generation


def generation_config(scenario: Scenario, proposal: Proposal) -> ModelConfig:
    """The model config a candidate trains on: the scenario's data and input, a
    text output, the candidate's generator and training overrides."""
    assert scenario.input_features is not None and scenario.data.target is not None
    return ModelConfig.model_validate({
        "data": scenario.data.model_dump(mode="json"),
        "input_features": [f.model_dump(mode="json") for f in scenario.input_features],
        "output_features": [{"name": scenario.data.target, "type": "text"}],
        "generator": proposal.generator,
        "training": {"seed": scenario.seed, **proposal.training},
    })  # fmt: skip


def portfolio(scenario: Scenario, rows: int) -> list[Proposal]:
    """Every family's proposals, in registration order."""
    return [p for entry in GENERATORS.values()
            for p in entry.cls.proposals(scenario.budget.seconds, rows)]  # fmt: skip


def measure(
    run: GenerationRun, rows: dict[str, pd.DataFrame], split: str, scenario: Scenario, folder: Path,
    train_seconds: float,
) -> record.Figures:  # fmt: skip
    """Quality on ``split``, speed one request at a time, cost, size, training."""
    frame = rows[split]
    scores = run.score_rows(frame, split)
    latency = run.latency(run.pairs(frame, split).sources)
    price = scenario.economics.price_per_cpu_hour
    metric = default_metric(scenario)
    value = scores.figures.get(metric)
    interval = scores.ci95 if scores.ci95 is not None and scores.ci95.metric == metric else None
    return record.Figures.model_validate(scores.dump() | dict(
        quality=record.Quality(metric=metric, value=value,
                               low=interval.low if interval else None,
                               high=interval.high if interval else None),
        latency_p50_ms=latency["p50_ms"], latency_p95_ms=latency["p95_ms"],
        cost_per_1k=cost_per_1k(latency["p50_ms"] / 1000, price),
        size_mb=folder_size_mb(folder), parameters=run.generator.size(),
        train_seconds=train_seconds, train_device="cpu",
        train_cost=training_cost(train_seconds, price), explainable=False,
    ))  # fmt: skip


def better(a: record.CandidateResult, b: record.CandidateResult, metric: str) -> bool:
    """Whether ``a`` beats ``b``: higher quality (lower for perplexity), then cheaper."""
    qa = a.metrics.quality.value if a.metrics.quality else None
    qb = b.metrics.quality.value if b.metrics.quality else None
    if qa is None or qb is None or qa == qb:
        return (a.metrics.cost_per_1k or 0.0) < (b.metrics.cost_per_1k or 0.0)
    return qa < qb if metric in LOWER_IS_BETTER else qa > qb


Train = Callable[[ModelConfig, Path], GenerationRun]  # config, run folder → trained run


def match_generation(
    scenario: Scenario, output: Path, train: Train, quiet: bool = False
) -> record.MatchResult:
    """Train (with ``train``: the pipeline's ``train_generator``), measure and check
    every proposal; recommend; re-check on test.

    Writes ``match.json``, ``trials/NAME/`` (each candidate's run) and
    ``recommended/`` (the pick's run folder) into ``output``.
    """
    started = time.monotonic()
    say = Console(stderr=True, quiet=quiet)
    probe = generation_config(scenario, portfolio(scenario, 0)[0])
    frames, dropped = read_splits(probe)
    proposals = portfolio(scenario, len(frames["train"]))
    metric = default_metric(scenario)
    entries: list[record.CandidateResult] = []
    skipped: list[str] = []
    for proposal in proposals:
        left = scenario.budget.seconds - (time.monotonic() - started)
        if left < scenario.budget.seconds / 10:
            skipped.append(proposal.name)
            continue
        say.print(f"training {proposal.name} …", markup=False)
        folder = output / "trials" / proposal.name
        began = time.monotonic()
        run = train(generation_config(scenario, proposal), folder)
        seconds = time.monotonic() - began
        figures = measure(run, frames, "validation", scenario, folder / "model", seconds)
        checks = check_constraints(scenario, figures)
        entries.append(record.CandidateResult(
            name=proposal.name, family=f"generator:{proposal.generator['name']}",
            params={"generator": proposal.generator, "training": proposal.training},
            metrics=figures, constraints=checks, feasible=all(c.passed for c in checks.values()),
            rejected_because=why_rejected(checks),
        ))  # fmt: skip
    return decide(scenario, output, entries, proposals, skipped, frames, dropped, metric, started)


def decide(
    scenario: Scenario, output: Path, entries: list[record.CandidateResult],
    proposals: list[Proposal], skipped: list[str], frames: dict[str, pd.DataFrame], dropped: int,
    metric: str, started: float,
) -> record.MatchResult:  # fmt: skip
    """The pick among the feasible, its test re-check, and ``match.json``."""
    feasible = [e for e in entries if e.feasible]
    best = None
    for entry in feasible:
        if best is None or better(entry, best, metric):
            best = entry
    reasoning = [p.reason for p in proposals]
    reasoning += [f"{name}: skipped, under a tenth of the budget was left" for name in skipped]
    result = record.MatchResult(
        scenario=record.ScenarioFacts(name=scenario.name, domain=scenario.domain,
                                      task=scenario.task),
        data=record.MatchData(rows={k: len(v) for k, v in frames.items()},
                              dropped_rows=dropped, columns=[]),
        portfolio=record.Portfolio(reasons=[p.reason for p in proposals],
                                   candidates=[p.name for p in proposals]),
        candidates=entries,
    )  # fmt: skip
    if best is None:
        result.reasoning = reasoning + ["no candidate met every constraint on validation"]
    else:
        trial = output / "trials" / best.name
        run = load_generation(trial)
        train_seconds = best.metrics.train_seconds or 0.0
        figures = measure(run, frames, "test", scenario, trial / "model", train_seconds)
        checks = check_constraints(scenario, figures)
        result.recommended = best.name
        result.test = record.TestCheck(metrics=figures, constraints=checks)
        value = best.metrics.quality.value if best.metrics.quality else None
        result.reasoning = reasoning + [
            f"{best.name}: best validation {metric} ({value:.2f}) of the {len(feasible)} "
            f"candidate(s) meeting every constraint"
        ]
        shutil.rmtree(output / "recommended", ignore_errors=True)
        shutil.copytree(trial, output / "recommended")
    result.search = record.SearchFacts(
        seed=scenario.seed, budget_s=scenario.budget.seconds,
        elapsed_s=time.monotonic() - started, rungs=[], completed_trials=len(entries),
        stopped_by_budget=bool(skipped), backend="local",
    )  # fmt: skip
    result.write(output / "match.json")
    return result
