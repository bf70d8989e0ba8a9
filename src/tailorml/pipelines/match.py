"""Match a scenario, then write its report and the recommended model's card."""

from __future__ import annotations

from pathlib import Path

from tailorml.config import ModelConfig, Scenario
from tailorml.match import run_match
from tailorml.match.backends import Backend
from tailorml.match.engine import load_scenario
from tailorml.records.match import MatchResult
from tailorml.report.card import write_model_card
from tailorml.report.match import write_match_report
from tailorml.runs.generation import GenerationRun


def match(
    scenario: Scenario | str | Path,
    output: str | Path,
    *,
    workers: int | None = None,
    quiet: bool = False,
    backend: Backend = Backend(),
) -> MatchResult:
    """Recommend the model that fits the scenario; write ``match.json``,
    ``recommended/`` (with its model card) and ``report.html`` into ``output``.
    A rerun on the same folder resumes: finished trials are not trained again.
    ``backend`` says where trials run (this machine, or a Ray cluster)."""
    spec = load_scenario(scenario)
    if spec.task == "generation":
        from tailorml.match.generation import match_generation
        from tailorml.pipelines.generate import train_generator

        def trial(config: ModelConfig, folder: Path) -> GenerationRun:
            return train_generator(config, folder, quiet=True)

        result = match_generation(spec, Path(output), trial, quiet)
        write_match_report(Path(output))
        return result
    result = run_match(spec, output, workers=workers, quiet=quiet, backend=backend)
    run_dir = Path(output)
    if result.recommended is not None:
        write_model_card(run_dir / "recommended", result)
    write_match_report(run_dir)
    return result
