"""MODEL_CARD.md: the model card of a run folder or of a match's recommended model.

The sections follow Mitchell et al. (2019), "Model Cards for Model Reporting":
model details, intended use, factors, metrics, evaluation data, training data,
quantitative analyses, ethical considerations, caveats and recommendations.
This module reads the folder's records into :class:`Facts` (the bundle's
``model.json``; ``metrics.json``, ``audit.json``, ``explanations.json`` and
``mitigated/model.json`` when there; the match's ``match.json`` for its
recommended model) and derives what needs deriving (tables, judged gaps,
uncertain groups); the template ``templates/model_card.md.j2`` words them,
reading the records' fields directly. Every sentence is a figure from the files
or a fact derived from them; where a file is missing (no audit yet) the card
says so and gives the command that writes it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from safetensors import safe_open

from tailorml.config import ModelConfig, Scenario
from tailorml.config.model import FairnessTraining
from tailorml.errors import DataError, TailorError
from tailorml.features import FeatureSet, Preprocessor
from tailorml.io import atomic_write_text
from tailorml.records.audit import (
    AttributeAudit,
    AuditRecord,
    DecisionRule,
    GroupRates,
    Reweighing,
    SmallGroup,
)
from tailorml.records.base import Record
from tailorml.records.explanations import ExplanationsRecord
from tailorml.records.match import (
    AttributeFairness,
    CandidateResult,
    GroupFigures,
    LimitFigures,
    MatchData,
    MatchResult,
    TestCheck,
)
from tailorml.records.metrics import DataFacts, Metrics, Privacy, Scores
from tailorml.report.charts import Fairness
from tailorml.report.html import METRIC_ORDER
from tailorml.report.match import MATCH_NAME
from tailorml.report.render import format_interval, format_number, format_value, render
from tailorml.runs.bundle import Manifest, corrupt, problem, read_manifest

CARD_NAME = "MODEL_CARD.md"
# written by later commands about the bundle; older than the bundle means about an earlier one
LATER_FILES = ("audit.json", "explanations.json", "mitigated/model.json")
SMALL_GROUP = 100  # groups with fewer evaluation rows are flagged
WIDE_GROUP_INTERVAL = 0.1  # per-group 95% intervals wider than this are flagged
WIDE_INTERVAL = 0.05  # an overall test 95% interval wider than this is flagged
GAP_LIMIT = 0.05  # fairness gaps above this are flagged (tailor audit's default --max-gap)
SPLITS = ("validation", "test")
GAPS = ("demographic_parity_difference", "equalized_odds_difference")
GROUP_RATES = ("selection_rate", "accuracy", "tpr", "fpr")
# input names that usually hold a protected attribute: the audit suggested for them
PROTECTED = ("sex", "gender", "race", "ethnic", "religion", "nationality", "native_country",
             "marital", "personal_status", "disability")  # fmt: skip
OPERATION = {  # fields of the candidate's Figures
    "latency_p50_ms": "latency p50 (ms)",
    "latency_p95_ms": "latency p95 (ms)",
    "throughput_rows_per_s": "throughput (rows/s)",
    "cost_per_1k": "cost per 1k predictions",
    "size_mb": "size (MB)",
    "parameters": "parameters",
    "flops_per_row": "FLOPs per row",
    "train_seconds": "training time (s)",
    "train_cost": "training cost",
    "explainable": "faithful explanations",
}
PRIVACY = {  # fields of Privacy
    "epsilon": "ε spent",
    "delta": "δ",
    "target_epsilon": "target ε",
    "max_grad_norm": "per-sample clip norm",
    "noise_multiplier": "noise multiplier",
    "sample_rate": "sampling rate",
    "accountant": "accountant",
    "covers": "covers",
}
MITIGATIONS = {  # the tailor audit --mitigate value that narrows each gap
    "demographic_parity_difference": "demographic_parity",
    "equalized_odds_difference": "equalized_odds",
}
TRAINING = {  # optional training settings shown when set
    "weight_decay": "weight decay",
    "early_stopping_patience": "early-stopping patience",
    "gradient_clipping": "gradient clipping at",
    "warmup_epochs": "warm-up epochs",
}

MatchLike = MatchResult | dict[str, Any]  # a dict: match.json's JSON value
R = TypeVar("R", bound=Record)


def write_model_card(run_dir: Path, match: MatchLike | None = None) -> Path:
    """Write ``run_dir/MODEL_CARD.md`` from the folder's files.

    Args:
        run_dir: a run folder (``model/`` inside) or a bare bundle folder such
            as a match's ``recommended/``.
        match: the match result when ``run_dir`` is the match's recommended
            model. None reads ``../match.json`` when ``run_dir`` is a folder
            named ``recommended`` beside one, so ``tailor audit`` / ``tailor
            explain`` on it keep the match's facts.

    Raises:
        TailorError: the folder holds no model bundle, or a file in it does not fit its record.
    """
    run_dir = Path(run_dir)
    target = run_dir / CARD_NAME
    atomic_write_text(target, render_model_card(run_dir, match))
    return target


def render_model_card(run_dir: Path, match: MatchLike | None = None) -> str:
    """The model card as Markdown (see :func:`write_model_card`)."""
    run_dir = Path(run_dir)
    if isinstance(match, dict):
        match = MatchResult.parse(match, "the match result")
    facts = read_facts(run_dir, match if match is not None else sibling_match(run_dir))
    text = render("model_card.md.j2", card_context(facts), {"names": names})
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def card_context(facts: Facts) -> dict[str, object]:
    """What the template reads beyond ``facts``: the sentences and tables derived from them."""
    deep, scenario = facts.family == "deep", facts.scenario
    params = {k: v for k, v in (facts.manifest.get("params") or {}).items() if k != "privacy"}
    written = datetime.fromtimestamp((facts.bundle_dir / "model.json").stat().st_mtime, tz=UTC)
    main = facts.splits.get("test") or next(iter(facts.splits.values()), None)
    order, reweighing = METRIC_ORDER.get(facts.task, []), facts.reweighing
    declared = scenario.sensitive if scenario else []
    reweighed = reweighing.sensitive if reweighing else []
    return {
        "facts": facts,
        "title": card_title(facts),
        "output": output_text(facts),
        # model details
        "encoders": encoders(facts.config) if deep else [],
        "decoder": options_text(facts.config.decoder.model_dump(mode="json")) if deep else None,
        "hyperparameters": None if deep else shown(params),
        "parameters": parameter_count(facts),
        "version": facts.manifest.get("tailorml_version", "of unrecorded version"),
        "format_version": facts.manifest.get("format_version"),
        "written": written.strftime("%Y-%m-%d %H:%M UTC"),
        "training": training_settings(facts) if deep else [],
        "seed": scenario.seed if scenario else facts.config.training.seed,
        # intended use, factors
        "inputs": [f"`{p.name}` ({p.type})" for p in facts.features.inputs],
        "input_names": {p.name for p in facts.features.inputs},
        "sensitive": list(dict.fromkeys([*facts.audited, *declared, *reweighed])),
        "test_fairness": facts.match_fairness("test"),
        "advice": audit_advice(facts),
        # metrics, training data
        "main": main,
        "quality": [m for m in order if main and m in main.figures],
        "headline": (main.headline if main else None) or next(iter(order), None),
        "shares": class_shares(main),
        "shares_split": "test" if "test" in facts.splits else "evaluation",
        "reweighing_text": shown(reweighing.model_dump(mode="json")) if reweighing else "",
        "preprocessing": preprocessing_table(facts),
        # quantitative analyses, ethics, caveats
        "tables": tables(facts),
        "bundle_mb": None if facts.chosen else bundle_megabytes(facts.bundle_dir),
        "gaps": measured_gaps(facts),
        "groups_measured": bool(measured_groups(facts)),
        "uncertain": uncertain_groups(facts),
        "gaps_above": gaps_above(facts),
        "raised": raised_gaps(facts),
        "test_checks": facts.test.constraints if facts.test else {},
        "limits": {
            "small_group": SMALL_GROUP,
            "wide_group": WIDE_GROUP_INTERVAL,
            "wide_interval": WIDE_INTERVAL,
            "gap_limit": GAP_LIMIT,
        },
    }


@dataclass(frozen=True)
class Table:
    """A Markdown table; cells are formatted text."""

    columns: list[str]
    rows: list[list[str]]
    title: str
    note: str = ""


def cell(value: object) -> str:
    """Table cell text: figures formatted, pipes escaped."""
    text = value if isinstance(value, str) else format_value(value)
    return text.replace("|", "\\|").replace("\n", " ")


def cells(reports: Iterable[object | None], field: str) -> list[str]:
    """``field`` of each report as a cell; a dash where there is no report."""
    return [cell(getattr(report, field) if report else None) for report in reports]


def names(values: Iterable[object] | None) -> str:
    """`a`, `b`, `c`: names as code spans."""
    return ", ".join(f"`{value}`" for value in values or [])


def number(value: object) -> float | None:
    """A finite float, or None for anything else (bools included)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def shown(options: Mapping[str, object]) -> str:
    """``key value, …`` of the options that are set."""
    return ", ".join(f"{k} {json.dumps(v)}" for k, v in options.items() if v not in (None, [], {}))


def options_text(options: Mapping[str, object]) -> str:
    """`` (key value, …)`` of a part's options but its name, or nothing when none is set."""
    text = shown({k: v for k, v in options.items() if k != "name"})
    return f" ({text})" if text else ""


@dataclass(frozen=True)
class Facts:
    """What a card is written from: the folder's records and the match result."""

    run_dir: Path
    bundle_dir: Path
    manifest: Manifest  # model.json as written: family, params, versions
    config: ModelConfig
    features: FeatureSet
    decision: DecisionRule | None
    metrics: Metrics  # empty without a metrics.json
    privacy: Privacy | None  # metrics.json's, else what the bundle's training spent
    audit: AuditRecord | None
    explanations: ExplanationsRecord | None
    mitigated: DecisionRule | None  # the thresholds of mitigated/model.json
    match: MatchResult | None
    scenario: Scenario | None  # the match's
    files: list[str]
    stale: list[str]

    @property
    def chosen(self) -> CandidateResult | None:
        """The recommended candidate's entry in the match."""
        return self.match.chosen if self.match else None

    @property
    def test(self) -> TestCheck | None:
        """The recommended candidate re-measured on the test rows."""
        return self.match.test if self.match else None

    @property
    def task(self) -> str:
        scenario = self.scenario.task if self.scenario else None
        return self.metrics.task or scenario or self.features.target.task

    @property
    def labels(self) -> list[str]:
        return [str(label) for label in self.metrics.labels or self.features.target.labels]

    @property
    def binary(self) -> bool:
        return self.task == "classification" and len(self.labels) == 2

    @property
    def family(self) -> str:
        return str(self.manifest.get("family", "deep"))

    @property
    def data(self) -> DataFacts | MatchData | None:
        """Rows per split and dropped rows: metrics.json's, else the match's."""
        return self.metrics.data or (self.match.data if self.match else None)

    @property
    def source(self) -> str:
        return self.metrics.data.source if self.metrics.data else self.config.data.source

    @property
    def splits(self) -> dict[str, Scores]:
        """Quality figures per split: metrics.json's, else the match's."""
        if self.metrics.splits or self.match is None:
            return self.metrics.splits
        both: dict[str, Scores | None] = {
            "validation": self.chosen.metrics if self.chosen else None,
            "test": self.test.metrics if self.test else None,
        }
        return {split: scores for split, scores in both.items() if scores is not None}

    @property
    def reweighing(self) -> Reweighing | FairnessTraining | None:
        """Training-time bias mitigation: metrics.json's ``fairness``, else the config's."""
        return self.metrics.fairness or self.config.training.fairness

    @property
    def audited(self) -> dict[str, AttributeAudit]:
        """The audit's attributes before any mitigation."""
        return self.audit.before.attributes if self.audit else {}

    @property
    def mitigated_audit(self) -> dict[str, AttributeAudit]:
        """The audit's attributes after mitigation."""
        return self.audit.after.attributes if self.audit and self.audit.after else {}

    def match_fairness(self, split: str) -> dict[str, AttributeFairness]:
        """Per attribute, the match's fairness figures on validation or test."""
        if split == "validation":
            return self.chosen.metrics.fairness if self.chosen else {}
        return (self.test.fairness or self.test.metrics.fairness) if self.test else {}


def read_facts(run_dir: Path, match: MatchResult | None) -> Facts:
    """Read every file the card uses from ``run_dir``.

    Raises:
        TailorError: no bundle in the folder, or a file that does not fit its record.
    """
    bundle_dir = run_dir / "model" if (run_dir / "model" / "model.json").is_file() else run_dir
    if not (bundle_dir / "model.json").is_file():
        raise TailorError(f"no model bundle in {run_dir} (no model/model.json or model.json).")
    manifest, config, features, decision, spent = read_bundle(bundle_dir)
    written = (bundle_dir / "model.json").stat().st_mtime
    present = [name for name in ("metrics.json", *LATER_FILES) if (run_dir / name).is_file()]
    # left by an earlier model trained into the same folder
    stale = [n for n in present if n in LATER_FILES and (run_dir / n).stat().st_mtime < written]
    found = {name: run_dir / name for name in present if name not in stale}
    files = [(bundle_dir / "model.json").relative_to(run_dir).as_posix(), *found]
    metrics = read_record(Metrics, found.get("metrics.json")) or Metrics()
    mitigated = found.get("mitigated/model.json")
    return Facts(
        run_dir=run_dir,
        bundle_dir=bundle_dir,
        manifest=manifest,
        config=config,
        features=features,
        decision=decision,
        metrics=metrics,
        privacy=metrics.privacy or spent,
        audit=read_record(AuditRecord, found.get("audit.json")),
        explanations=read_record(ExplanationsRecord, found.get("explanations.json")),
        mitigated=read_bundle(mitigated.parent).decision if mitigated else None,
        match=match,
        scenario=scenario_of(match),
        files=files,
        stale=stale,
    )


def read_record(kind: type[R], path: Path | None) -> R | None:
    return kind.read(path) if path is not None else None


class BundleFacts(NamedTuple):
    """What a bundle's ``model.json`` describes, besides the weights."""

    manifest: Manifest  # as written: family, params, versions
    config: ModelConfig
    features: FeatureSet
    decision: DecisionRule | None
    privacy: Privacy | None  # what DP-SGD spent, as the params record it


def read_bundle(folder: Path) -> BundleFacts:
    """``model.json`` of a bundle folder, read as loading the model reads it.

    Raises:
        TailorError: ``model.json`` is not JSON or does not describe a model (names the entry).
    """
    manifest = read_manifest(folder)
    decision, spent = manifest.get("decision"), (manifest.get("params") or {}).get("privacy")
    try:
        return BundleFacts(
            manifest,
            ModelConfig.model_validate(manifest["config"]),
            FeatureSet.from_dict(manifest["features"]),
            DecisionRule.model_validate(decision) if decision else None,
            Privacy.model_validate(spent) if spent else None,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as err:  # ValidationError too
        raise corrupt(folder, "model.json", f"does not describe a model ({problem(err)})") from None


def sibling_match(run_dir: Path) -> MatchResult | None:
    """The match result beside a match's ``recommended/`` folder, if any, so
    commands run later on that folder (audit, explain) keep the match's facts."""
    path = run_dir / ".." / MATCH_NAME
    if run_dir.resolve().name != "recommended" or not path.is_file():
        return None
    return MatchResult.read(path)


def scenario_of(match: MatchResult | None) -> Scenario | None:
    """The scenario the match was run for, validated again.

    Raises:
        DataError: the match result's scenario is not a valid scenario.
    """
    if match is None or not match.scenario.dump():
        return None
    try:
        return match.scenario.spec()
    except ValueError as err:  # ValidationError
        raise DataError(f"the match result's scenario is not valid: {problem(err)}.") from None


def stored_values(bundle_dir: Path, family: str) -> int | None:
    """Values in the weight file: every tensor of a network; coefficients and
    intercepts of a linear model (its IDF weights are preprocessing)."""
    name = {"deep": "model.safetensors", "linear": "linear.safetensors"}.get(family)
    if name is None or not (bundle_dir / name).is_file():
        return None
    with safe_open(str(bundle_dir / name), framework="numpy") as weights:
        stored = weights.keys()
        keys = [k for k in stored if family == "deep" or not k.startswith("idf.")]
        return sum(math.prod(weights.get_slice(k).get_shape()) for k in keys)


def bundle_megabytes(bundle_dir: Path) -> float:
    return sum(f.stat().st_size for f in bundle_dir.rglob("*") if f.is_file()) / 1e6


def fairness_limits(scenario: Scenario | None) -> dict[str, dict[str, float]]:
    """The scenario's fairness limits: attribute → gap → max."""
    limits: dict[str, dict[str, float]] = {}
    for limit in scenario.constraints.fairness if scenario else []:
        limits.setdefault(limit.attribute, {})[limit.metric] = limit.max
    return limits


def card_title(facts: Facts) -> str:
    if facts.match is not None:
        name = facts.chosen.name if facts.chosen else facts.family
        return f"{name}, recommended for `{facts.scenario.name if facts.scenario else 'match'}`"
    return facts.metrics.run_name or facts.run_dir.resolve().name


def output_text(facts: Facts) -> str:
    target = f"`{facts.features.target.name}`"
    if facts.task == "regression":
        return f"{target}, a number"
    if facts.binary:
        return f"{target}, binary: {names(facts.labels)}; positive label `{facts.labels[1]}`"
    return f"{target}, {len(facts.labels)} classes: {names(facts.labels)}"


def encoders(config: ModelConfig) -> list[tuple[str | None, str, list[str]]]:
    """(name, options, inputs) of each encoder: the inputs grouped by encoder and options."""
    groups: dict[tuple[str | None, str], list[str]] = {}
    for feature in config.input_features:
        encoder = feature.encoder.model_dump(mode="json") if feature.encoder else {}
        key = (encoder.get("name"), options_text(encoder))
        groups.setdefault(key, []).append(feature.name)
    return [(name, options, inputs) for (name, options), inputs in groups.items()]


def parameter_count(facts: Facts) -> tuple[int | None, str]:
    counted = facts.chosen.metrics.parameters if facts.chosen else None
    if counted is not None:
        return counted, "counted by `tailor match`"
    return stored_values(facts.bundle_dir, facts.family), "values stored in the weight file"


def training_settings(facts: Facts) -> list[str]:
    """Optimiser, batches, epochs and schedule of a deep model."""
    t, train = facts.config.training, facts.metrics.train
    run = train.epochs if train else None
    settings = [
        f"optimizer `{t.optimizer}`",
        f"learning rate {t.learning_rate}",
        f"batch size {t.batch_size}",
        f"{t.epochs} planned epochs" if run is None else f"{run} of {t.epochs} planned epochs",
        f"loss `{t.loss}`",
        f"learning-rate schedule `{t.lr_schedule}`",
        f"precision `{t.precision}`",
    ]
    settings += [f"{label} {getattr(t, key)}" for key, label in TRAINING.items() if getattr(t, key)]
    for key, part in (("privacy", t.privacy), ("fairness", t.fairness)):
        settings += [f"{key} ({shown(part.model_dump(mode='json'))})"] if part else []
    if train and train.best_epoch is not None:
        settings.append(f"best epoch {train.best_epoch}")
    if train and number(train.seconds) is not None:
        settings.append(f"{format_value(train.seconds, '.1f')} s of training")
    return settings


class AuditAdvice(NamedTuple):
    """The exact ``tailor audit`` command to run, and on which columns."""

    columns: list[str]
    why: str
    command: str


def audit_advice(facts: Facts) -> AuditAdvice:
    """The exact ``tailor audit`` command, on the inputs named like protected
    attributes, else on the first group-like input."""
    groups = [p.name for p in facts.features.inputs if p.type in ("category", "binary")]
    protected = [name for name in groups if any(word in name.lower() for word in PROTECTED)]
    columns = protected or groups[:1]
    source = facts.config.data.split.test_file or facts.source
    flags = " ".join(f"--sensitive {column}" for column in columns)
    why = "the inputs named like protected attributes" if protected else "a group column"
    command = f"tailor audit {facts.run_dir} --data {source} {flags}"
    return AuditAdvice(columns, f"{why} ({names(columns)})", command)


def class_shares(scores: Scores | None) -> list[str]:
    """``label 23.6%`` per class, from the per-class support."""
    counts = {k: c.support for k, c in (scores.per_class or {}).items()} if scores else {}
    total = sum(counts.values())
    if not total or len(counts) > 20:
        return []
    return [f"`{label}` {count / total:.1%}" for label, count in counts.items()]


def preprocessing_row(feature: Preprocessor) -> list[str]:
    """One input: its options and what was fitted on the training rows."""
    kind, state = feature.type, feature.state
    if kind == "number":
        low, high = format_number(state.get("min")), format_number(state.get("max"))
        learned = f"range {low} to {high}, mean {format_number(state.get('mean'))}"
    elif kind in ("category", "text"):
        vocab = [v for v in state.get("vocab") or [] if v not in ("<unknown>", "<pad>")]
        learned = f"{len(vocab):,} {'categories' if kind == 'category' else 'tokens'}"
    elif kind == "binary":
        learned = f"values {names(state.get('values'))}; positive `{state.get('positive')}`"
    else:
        learned = "size " + "×".join(str(state.get(k)) for k in ("height", "width", "channels"))
    return [cell(f"`{feature.name}`"), kind, cell(shown(feature.options)), cell(learned)]


def tables(facts: Facts) -> list[Table]:
    """Every table of the Quantitative analyses section, in order."""
    found = [quality_table(facts)] if facts.splits else []
    found += per_class_table(facts) + operation_table(facts)
    privacy = facts.privacy
    if privacy is not None:
        rows = [[label, cell(format_number(getattr(privacy, k)))] for k, label in PRIVACY.items()]
        found.append(Table(["differential privacy", "value"], rows, "Privacy (DP-SGD)"))
    found += audit_tables(facts) + match_fairness_tables(facts) + match_limit_tables(facts)
    return found + importance_table(facts)


def preprocessing_table(facts: Facts) -> Table:
    columns = ["input", "type", "preprocessing", "learned from the training rows"]
    rows = [preprocessing_row(feature) for feature in facts.features.inputs]
    return Table(columns, rows, "Preprocessing")


def quality_table(facts: Facts) -> Table:
    """Each metric per split, then the headline's 95% interval."""
    splits = facts.splits
    order = METRIC_ORDER.get(facts.task, [])
    present = [m for m in order if any(number(getattr(s, m, None)) is not None
                                       for s in splits.values())]  # fmt: skip
    rows = [[m, *(cell(getattr(s, m, None)) for s in splits.values())] for m in present]
    cis = [s.ci95 for s in splits.values()]
    metric = next((ci.metric for ci in cis if ci), None)
    if metric:
        texts = [f"[{format_value(ci.low)}, {format_value(ci.high)}]" if ci else "—" for ci in cis]
        rows.append([f"{metric} 95% CI", *texts])
    return Table(["metric", *splits], rows, "Quality per split")


def per_class_table(facts: Facts) -> list[Table]:
    split = "test" if "test" in facts.splits else next(iter(facts.splits), "")
    scores = facts.splits.get(split)
    per_class = scores.per_class if scores else None
    if not per_class or len(per_class) > 20:
        return []
    rows = [[cell(f"`{label}`"), *map(cell, (c.precision, c.recall, c.f1, c.support))]
            for label, c in per_class.items()]  # fmt: skip
    return [Table(["class", "precision", "recall", "f1", "support"], rows, f"Per class on {split}")]


def operation_table(facts: Facts) -> list[Table]:
    """Speed, size and money of a match model, measured on the validation rows."""
    if facts.chosen is None:
        return []
    figures = facts.chosen.metrics
    measured = {label: getattr(figures, key) for key, label in OPERATION.items()}
    rows = [[label, cell(format_number(v))] for label, v in measured.items() if v is not None]
    if facts.scenario and figures.cost_per_1k is not None:
        economics = facts.scenario.economics
        volume = economics.predictions_per_month
        monthly = f"{format_number(figures.cost_per_1k * volume / 1000)} {economics.currency}"
        rows.append([f"cost of {format_number(volume)} predictions a month", monthly])
    test = facts.test.metrics if facts.test else None
    values = {
        "value per 1k decisions, validation": figures.value_per_1k,
        "value per 1k at a 0.5 threshold, validation": figures.baseline_value_per_1k,
        "value per 1k decisions, test": test.value_per_1k if test else None,
    }
    rows += [[label, format_number(v)] for label, v in values.items() if v is not None]
    return [Table(["figure", "value"], rows, "Operation (`tailor match`, validation rows)")]


def audit_tables(facts: Facts) -> list[Table]:
    """Every group's rates with intervals; the gaps before and after mitigation."""
    found = [group_table(a, report, "audit") for a, report in facts.audited.items()]
    if facts.audit is None or facts.audit.after is None:
        return found
    before, after = facts.audit.before, facts.audit.after
    rows = [["accuracy", "all rows", *cells((before, after), "accuracy")]]
    for attribute, old in facts.audited.items():
        new = facts.mitigated_audit.get(attribute)
        rows += [[gap, f"`{attribute}`", *cells((old, new), gap)] for gap in GAPS]
    columns = ["figure", "attribute", "before", "after"]
    found.append(Table(columns, rows, "Before and after mitigation"))
    mitigated = facts.mitigated_audit.items()
    return found + [group_table(a, report, "audit after mitigation") for a, report in mitigated]


def group_table(attribute: str, report: AttributeAudit | AttributeFairness, where: str) -> Table:
    """One row per group: n and each rate, with its 95% interval when known."""
    rows = []
    for group, stats in report.groups.items():
        cis = stats.ci95 if isinstance(stats, GroupRates) else {}
        rates = [rate_cell(getattr(stats, rate), cis.get(rate)) for rate in GROUP_RATES]
        rows.append([cell(group), cell(stats.n), *rates])
    gaps = "; ".join(f"{gap} {format_value(getattr(report, gap))}" for gap in GAPS)
    notes = [f"{gaps}."]
    if isinstance(report, AttributeAudit) and report.too_small:
        between = "; ".join(f"{gap} {format_value(getattr(report.judged, gap))}" for gap in GAPS)
        notes += [f"{too_small_text(report.too_small)} Between the other groups: {between}."]
    if any("—" in text for row in rows for text in row):
        notes += ["A dash marks a rate the group has no rows for."]
    return Table(["group", "n", *GROUP_RATES], rows, f"`{attribute}` ({where})", " ".join(notes))


def rate_cell(value: float | None, ci: tuple[float, float] | None) -> str:
    return cell(f"{format_value(value)} {format_interval(ci, '.4f')}" if ci else value)


def match_fairness_tables(facts: Facts) -> list[Table]:
    """Gaps on validation and test against the scenario's limits; test groups."""
    validation, test = facts.match_fairness("validation"), facts.match_fairness("test")
    limits = fairness_limits(facts.scenario)
    found = []
    for attribute in dict.fromkeys([*validation, *test]):
        both, limit = (validation.get(attribute), test.get(attribute)), limits.get(attribute, {})
        rows = [[gap, *cells(both, gap), cell(limit.get(gap, "no limit"))] for gap in GAPS]
        found.append(Table(["gap", "validation", "test", "limit"], rows, f"`{attribute}` gaps"))
        if attribute in test:
            found.append(group_table(attribute, test[attribute], "test"))
    return found


def match_limit_tables(facts: Facts) -> list[Table]:
    """Each fairness limit: the gap over the judged groups on validation and test, the
    effective limit the decision was tuned to, and the groups too small to judge."""
    validation = facts.chosen.metrics.limits if facts.chosen else {}
    test = facts.test.metrics.limits if facts.test else {}
    found = []
    for name in dict.fromkeys([*validation, *test]):
        val, tst = validation.get(name), test.get(name)
        scope = next(figures.scope for figures in (val, tst) if figures)
        rows = [
            ["judged groups (rows)", judged_groups(val), judged_groups(tst)],
            ["gap between them", *cells((val, tst), "gap")],
            ["effective limit (limit − margin)", *cells([val], "effective_limit"), "—"],
        ]
        note = f"Groups with fewer than {scope.min_group_size} rows are not judged."
        if scope.reference:
            note += f" Each group is measured against `{scope.reference}`."
        for split, figures in (("validation", val), ("test", tst)):
            if figures and figures.too_small:
                note += f" On {split}: {too_small_text(figures.too_small)}"
        found.append(Table(["", "validation", "test"], rows, f"Fairness limit `{name}`", note))
    return found


def too_small_text(groups: list[SmallGroup]) -> str:
    """``Too few rows to judge: `A` (3 rows, selection rate 0.33 [0.06, 0.79]); …``."""
    each = []
    for group in groups:
        rate = rate_cell(group.selection_rate.value, group.selection_rate.ci95)
        each.append(f"`{group.group}` ({group.n} rows, selection rate {rate})")
    return f"Too few rows to judge: {'; '.join(each)}."


def judged_groups(figures: LimitFigures | None) -> str:
    groups = figures.groups if figures else {}
    return cell(", ".join(f"{g} ({n:,})" for g, n in groups.items()) or "—")


def importance_table(facts: Facts) -> list[Table]:
    ranking = facts.explanations.permutation_importance if facts.explanations else None
    ordered = sorted((ranking or {}).items(), key=lambda item: -item[1].mean)
    rows = [[cell(f"`{name}`"), cell(drop.mean), cell(drop.std)] for name, drop in ordered]
    title = "Permutation importance (drop in the headline metric when the input is shuffled)"
    return [Table(["input", "mean drop", "std"], rows, title)] if rows else []


class Gap(NamedTuple):
    """One measured fairness gap beside its bound: the scenario's limit, else GAP_LIMIT."""

    where: str
    attribute: str
    gap: str
    value: float
    bound: float
    scenario_limit: bool
    remedy: str | None = None  # the command that narrows it


class GroupFlag(NamedTuple):
    """A group whose figures are uncertain, and why (few rows, wide intervals)."""

    where: str
    attribute: str
    group: str
    reasons: list[str]


def measured_gaps(facts: Facts) -> list[Gap]:
    """Every fairness gap in the files, with the limit it is judged against."""
    reports: list[tuple[str, Fairness]] = [
        ("audit", facts.audited),
        ("audit after mitigation", facts.mitigated_audit),
        *((split, facts.match_fairness(split)) for split in SPLITS),
    ]
    limits = fairness_limits(facts.scenario)
    found = []
    for where, attributes in reports:
        for attribute, report in attributes.items():
            for gap in GAPS:
                value, limit = number(getattr(report, gap)), limits.get(attribute, {}).get(gap)
                if value is not None:
                    bound = GAP_LIMIT if limit is None else limit
                    found.append(Gap(where, attribute, gap, value, bound, limit is not None))
    return found


def gaps_above(facts: Facts) -> list[Gap]:
    """Gaps above GAP_LIMIT, each with the command that narrows it (or None)."""
    above = [gap for gap in measured_gaps(facts) if gap.value > GAP_LIMIT]
    return [gap._replace(remedy=remedy(facts, gap)) for gap in above]


def remedy(facts: Facts, gap: Gap) -> str | None:
    """``tailor audit --mitigate`` for a gap of an audit not yet mitigated."""
    method = MITIGATIONS.get(gap.gap)
    audit = facts.audit
    if gap.where != "audit" or method is None or audit is None or audit.after is not None:
        return None
    return f"tailor audit {facts.run_dir} --data {audit.data} --sensitive {gap.attribute} " \
        f"--mitigate {method}"  # fmt: skip


def measured_groups(facts: Facts) -> list[tuple[str, str, str, GroupRates | GroupFigures]]:
    """(where, attribute, group, rates) of every group in the audit or on the match's test."""
    reports: list[tuple[str, Fairness]] = [
        ("audit", facts.audited),
        ("test", facts.match_fairness("test")),
    ]
    return [(where, attribute, group, stats) for where, attributes in reports
            for attribute, report in attributes.items()
            for group, stats in report.groups.items()]  # fmt: skip


def uncertain_groups(facts: Facts) -> list[GroupFlag]:
    """The measured groups with few rows or wide intervals."""
    flagged = []
    for where, attribute, group, stats in measured_groups(facts):
        small = stats.n < SMALL_GROUP
        cis = stats.ci95 if isinstance(stats, GroupRates) else {}
        widths = {rate: ci[1] - ci[0] for rate, ci in cis.items() if ci is not None}
        wide = [f"{rate} interval {w:.3f} wide" for rate, w in widths.items()
                if w > WIDE_GROUP_INTERVAL]  # fmt: skip
        if small or wide:
            size = f"{'only ' if small else ''}{stats.n:,} rows"
            flagged.append(GroupFlag(where, attribute, group, [size, *wide]))
    return flagged


def raised_gaps(facts: Facts) -> list[tuple[str, str, float, float]]:
    """(gap, attribute, before, after) of every gap that rose under mitigation."""
    raised = []
    for attribute, old in facts.audited.items():
        new = facts.mitigated_audit.get(attribute)
        for gap in GAPS:
            before, after = number(getattr(old, gap)), number(getattr(new, gap) if new else None)
            if before is not None and after is not None and after > before:
                raised.append((gap, attribute, before, after))
    return raised
