"""MODEL_CARD.md: the model card of a run folder or of a match's recommended model.

The sections follow Mitchell et al. (2019), "Model Cards for Model Reporting":
model details, intended use, factors, metrics, evaluation data, training data,
quantitative analyses, ethical considerations, caveats and recommendations.
This module gathers facts from the folder's files; the template
``templates/model_card.md.j2`` words them. Every sentence is a figure from
the files or a fact derived from them; where a file is missing (no audit
yet) the card says so and gives the command that writes it.

Files read from the folder (all optional but the bundle):
    ``model/model.json`` (or ``model.json`` for a bare bundle such as a match's
    ``recommended/``): family, params, config, preprocessing, decision rule.
    ``metrics.json``: task, labels, rows per split, training figures, quality
    per split with 95% intervals, ``privacy`` and ``fairness`` when present.
    ``config.yaml``: only when the bundle carries no config.
    ``audit.json``, ``explanations.json``: from ``tailor audit`` / ``tailor explain``.
    ``mitigated/model.json``: the thresholds ``tailor audit --mitigate`` chose.
The match (what ``tailor match`` writes to ``match.json``) adds the scenario,
the recommended candidate's validation figures and the test figures.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from safetensors import safe_open

from tailorml.errors import TailorError
from tailorml.io import atomic_write_text
from tailorml.report.html import format_value, read_json_object
from tailorml.report.match import MATCH_NAME, format_number
from tailorml.report.render import render

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
FAMILIES = {
    "deep": "a deep network: one encoder per input, a combiner, an MLP decoder",
    "linear": "a linear model: logistic regression for classes, ridge regression for numbers",
    "lightgbm": "gradient-boosted decision trees (LightGBM)",
    "fair_reductions": "a fairness-constrained mixture of classifiers (fairlearn's "
    "ExponentiatedGradient)",
}
METRIC_ORDER = {
    "classification": ["accuracy", "precision_macro", "recall_macro", "f1_macro", "roc_auc",
                       "log_loss", "ece", "n"],
    "regression": ["mae", "rmse", "r2", "n"],
}  # fmt: skip
MEANINGS = {
    "accuracy": "the share of decisions that equal the label",
    "precision_macro": "precision per class, averaged over the classes",
    "recall_macro": "recall per class, averaged over the classes",
    "f1_macro": "F1 per class averaged over the classes, so a small class counts as much as a "
    "large one",
    "roc_auc": "how well the probabilities rank the classes, whatever the threshold",
    "log_loss": "negative log-likelihood of the true labels: the quality of the probabilities",
    "ece": "expected calibration error: the row-weighted gap between confidence and accuracy "
    "over 10 confidence bins",
    "mae": "mean absolute error, in the target's units",
    "rmse": "root mean squared error, in the target's units; it weighs large errors more",
    "r2": "the share of the target's variance the predictions explain",
}
PII_POLICIES = {
    "allow": "data.pii is `allow`: the data was not scanned for personal data before training.",
    "redact": "data.pii is `redact`: personal data found in {scope} was replaced before "
    "training, and prediction rows get the same redaction.",
    "drop_column": "data.pii is `drop_column`: columns among {scope} holding personal data were "
    "dropped before training.",
    "fail": "data.pii is `fail`: training stops on personal data in {scope}; this run finished, "
    "so none was found.",
}
OPERATION = {
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
PRIVACY = {
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
STAKES = {"medical": "health", "finance": "money", "education": "schooling"}
TRAINING = {  # optional training settings shown when set
    "weight_decay": "weight decay",
    "early_stopping_patience": "early-stopping patience",
    "gradient_clipping": "gradient clipping at",
    "warmup_epochs": "warm-up epochs",
}


def write_model_card(run_dir: Path, match: dict[str, Any] | None = None) -> Path:
    """Write ``run_dir/MODEL_CARD.md`` from the folder's files.

    Args:
        run_dir: a run folder (``model/`` inside) or a bare bundle folder such
            as a match's ``recommended/``.
        match: the match result (``match.json``) when ``run_dir`` is the
            match's recommended model. None reads ``../match.json`` when
            ``run_dir`` is a folder named ``recommended`` beside one, so
            ``tailor audit`` / ``tailor explain`` on it keep the match's facts.

    Returns:
        The path of the written card.

    Raises:
        TailorError: the folder holds no model bundle, or a file in it cannot be parsed.
    """
    run_dir = Path(run_dir)
    target = run_dir / CARD_NAME
    atomic_write_text(target, render_model_card(run_dir, match))
    return target


def render_model_card(run_dir: Path, match: dict[str, Any] | None = None) -> str:
    """The model card as Markdown (see :func:`write_model_card`)."""
    run_dir = Path(run_dir)
    facts = read_facts(run_dir, match if match is not None else sibling_match(run_dir))
    context = {
        "title": card_title(facts),
        "files": facts.files,
        "stale": facts.stale,
        "match": facts.match is not None,
        "source": facts.source,
        "output": output_text(facts),
        "pii": pii_policy(facts.data),
        "model": model_details(facts),
        "use": intended_use(facts),
        "factors": factors(facts),
        "metrics": metric_choices(facts),
        "evaluation": evaluation_data(facts),
        "training": training_data(facts),
        "quantitative": quantitative_analyses(facts),
        "ethics": ethical_considerations(facts),
        "caveats": caveats(facts),
    }
    filters = {"fmt": format_value, "num": format_number, "names": names}
    text = render("model_card.md.j2", context, filters)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


# ---------------------------------------------------------------- helpers


@dataclass(frozen=True)
class Table:
    """A Markdown table; cells are formatted text."""

    columns: list[str]
    rows: list[list[str]]
    title: str | None = None
    note: str = ""


def cell(value: Any) -> str:
    """Table cell text: figures formatted, pipes escaped."""
    text = value if isinstance(value, str) else format_value(value)
    return text.replace("|", "\\|").replace("\n", " ")


def interval(low: Any, high: Any) -> str:
    return f"[{format_value(low)}, {format_value(high)}]"


def names(values: Any) -> str:
    """`a`, `b`, `c`: names as code spans."""
    return ", ".join(f"`{value}`" for value in values or [])


def dict_of(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def number(value: Any) -> float | None:
    """A finite float, or None for anything else (bools included)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def shown(options: dict[str, Any]) -> str:
    """``key value, …`` of the options that are set."""
    return ", ".join(f"{k} {json.dumps(v)}" for k, v in options.items() if v not in (None, [], {}))


# ---------------------------------------------------------------- reading


@dataclass(frozen=True)
class Facts:
    """What a card is written from: the folder's files and the match result."""

    run_dir: Path
    bundle_dir: Path
    manifest: dict[str, Any]
    config: dict[str, Any]
    metrics: dict[str, Any]
    audit: dict[str, Any]
    explanations: dict[str, Any]
    mitigated: dict[str, Any]
    match: dict[str, Any] | None
    files: list[str]
    stale: list[str]

    @property
    def candidate(self) -> dict[str, Any]:
        """The recommended candidate's entry in the match, or {}."""
        match = self.match or {}
        entries = [c for c in match.get("candidates") or [] if isinstance(c, dict)]
        wanted = match.get("recommended")
        return next((c for c in entries if wanted is not None and c.get("name") == wanted), {})

    @property
    def scenario(self) -> dict[str, Any]:
        return dict_of((self.match or {}).get("scenario"))

    @property
    def target(self) -> dict[str, Any]:
        return dict_of(dict_of(self.manifest.get("features")).get("target"))

    @property
    def inputs(self) -> list[dict[str, Any]]:
        found = dict_of(self.manifest.get("features")).get("inputs") or []
        return [item for item in found if isinstance(item, dict)]

    @property
    def task(self) -> str:
        kind = "regression" if self.target.get("kind") == "number" else "classification"
        return str(self.metrics.get("task") or self.scenario.get("task") or kind)

    @property
    def labels(self) -> list[str]:
        labels = self.metrics.get("labels") or dict_of(self.target.get("state")).get("labels")
        return [str(label) for label in labels or []]

    @property
    def binary(self) -> bool:
        return self.task == "classification" and len(self.labels) == 2

    @property
    def data(self) -> dict[str, Any]:
        return dict_of(self.config.get("data"))

    @property
    def training(self) -> dict[str, Any]:
        return dict_of(self.config.get("training"))

    @property
    def family(self) -> str:
        return str(self.manifest.get("family", "deep"))

    @property
    def data_summary(self) -> dict[str, Any]:
        """Rows per split and dropped rows: metrics.json's, else the match's."""
        return dict_of(self.metrics.get("data")) or dict_of((self.match or {}).get("data"))

    @property
    def source(self) -> str:
        return str(self.data_summary.get("source") or self.data.get("source"))

    @property
    def splits(self) -> dict[str, dict[str, Any]]:
        """Quality figures per split: metrics.json's, else the match's."""
        found = {s: self.metrics[s] for s in SPLITS if isinstance(self.metrics.get(s), dict)}
        if found or self.match is None:
            return found
        test = dict_of(dict_of(self.match.get("test")).get("metrics"))
        both = {"validation": dict_of(self.candidate.get("metrics")), "test": test}
        return {split: figures for split, figures in both.items() if figures}

    @property
    def privacy(self) -> dict[str, Any]:
        params = dict_of(self.manifest.get("params"))
        return dict_of(self.metrics.get("privacy") or params.get("privacy"))

    @property
    def reweighing(self) -> dict[str, Any]:
        """Training-time bias mitigation: metrics.json's ``fairness``, else the config's."""
        return dict_of(self.metrics.get("fairness") or self.training.get("fairness"))

    @property
    def audited(self) -> dict[str, Any]:
        """The audit's attributes before any mitigation."""
        return dict_of(dict_of(self.audit.get("before")).get("attributes"))


def read_facts(run_dir: Path, match: dict[str, Any] | None) -> Facts:
    """Read every file the card uses from ``run_dir``.

    Raises:
        TailorError: no bundle in the folder, or a file that cannot be parsed.
    """
    bundle_dir = run_dir / "model" if (run_dir / "model" / "model.json").is_file() else run_dir
    if not (bundle_dir / "model.json").is_file():
        raise TailorError(f"no model bundle in {run_dir} (no model/model.json or model.json).")
    manifest = read_json_object(bundle_dir / "model.json", "")
    files = [(bundle_dir / "model.json").relative_to(run_dir).as_posix()]
    config = dict_of(manifest.get("config"))
    if not config and (run_dir / "config.yaml").is_file():
        config = read_yaml(run_dir / "config.yaml")
        files.append("config.yaml")
    written = (bundle_dir / "model.json").stat().st_mtime
    found: dict[str, dict[str, Any]] = {}
    stale: list[str] = []
    for name in ("metrics.json", "audit.json", "explanations.json", "mitigated/model.json"):
        path = run_dir / name
        if not path.is_file():
            continue
        if name in LATER_FILES and path.stat().st_mtime < written:
            stale.append(name)  # left by an earlier model trained into the same folder
            continue
        found[name] = read_json_object(path, "")
        files.append(name)
    return Facts(
        run_dir=run_dir,
        bundle_dir=bundle_dir,
        manifest=manifest,
        config=config,
        metrics=found.get("metrics.json", {}),
        audit=found.get("audit.json", {}),
        explanations=found.get("explanations.json", {}),
        mitigated=found.get("mitigated/model.json", {}),
        match=match,
        files=files,
        stale=stale,
    )


def sibling_match(run_dir: Path) -> dict[str, Any] | None:
    """The match result beside a match's ``recommended/`` folder, if any, so
    commands run later on that folder (audit, explain) keep the match's facts."""
    path = run_dir / ".." / MATCH_NAME
    if run_dir.resolve().name != "recommended" or not path.is_file():
        return None
    return read_json_object(path, "")


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise TailorError(f"{path} is not valid YAML: {err}") from err
    return dict_of(loaded)


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


def match_fairness(facts: Facts, split: str) -> dict[str, dict[str, Any]]:
    """Per attribute, the match's fairness figures on validation or test."""
    if facts.match is None:
        return {}
    figures = dict_of(facts.match.get("test")) if split == "test" else facts.candidate
    found = dict_of(figures.get("fairness") or dict_of(figures.get("metrics")).get("fairness"))
    return {str(k): dict_of(v) for k, v in found.items()}


def fairness_limits(facts: Facts) -> dict[str, dict[str, float]]:
    """The scenario's fairness limits: attribute → gap → max."""
    limits: dict[str, dict[str, float]] = {}
    for entry in dict_of(facts.scenario.get("constraints")).get("fairness") or []:
        limits.setdefault(str(entry["attribute"]), {})[str(entry["metric"])] = entry["max"]
    return limits


# ---------------------------------------------------------------- model details


def card_title(facts: Facts) -> str:
    if facts.match is not None:
        name = facts.candidate.get("name", facts.family)
        return f"{name}, recommended for `{facts.scenario.get('name', 'match')}`"
    return str(facts.metrics.get("run_name") or facts.run_dir.resolve().name)


def output_text(facts: Facts) -> str:
    target = f"`{facts.target.get('name') or facts.metrics.get('target')}`"
    if facts.task == "regression":
        return f"{target}, a number"
    if facts.binary:
        return f"{target}, binary: {names(facts.labels)}; positive label `{facts.labels[1]}`"
    return f"{target}, {len(facts.labels)} classes: {names(facts.labels)}"


def model_details(facts: Facts) -> dict[str, Any]:
    deep = facts.family == "deep"
    params = {k: v for k, v in dict_of(facts.manifest.get("params")).items() if k != "privacy"}
    parameters, how = parameter_count(facts)
    stamp = datetime.fromtimestamp((facts.bundle_dir / "model.json").stat().st_mtime, tz=UTC)
    return {
        "family": facts.family,
        "family_text": FAMILIES.get(facts.family, "a classical model"),
        "encoders": encoders(facts) if deep else [],
        "combiner": dict_of(facts.config.get("combiner")).get("type", "concat"),
        "decoder": decoder_text(facts) if deep else None,
        "hyperparameters": None if deep else shown(params),
        "parameters": parameters,
        "parameters_how": how,
        "version": facts.manifest.get("tailorml_version", "of unrecorded version"),
        "format_version": facts.manifest.get("format_version"),
        "written": stamp.strftime("%Y-%m-%d %H:%M UTC"),
        "training": training_settings(facts) if deep else [],
        "fit_seconds": number(dict_of(facts.candidate.get("metrics")).get("train_seconds")),
        "seed": facts.scenario.get("seed", facts.training.get("seed")),
        "split_seed": dict_of(facts.data.get("split")).get("seed"),
    }


def encoders(facts: Facts) -> list[dict[str, Any]]:
    """Inputs grouped by encoder and options."""
    groups: dict[str, dict[str, Any]] = {}
    for feature in facts.config.get("input_features") or []:
        encoder = dict_of(feature.get("encoder"))
        options = shown({k: v for k, v in encoder.items() if k != "name"})
        entry = {"name": encoder.get("name"), "options": f" ({options})" if options else ""}
        key = json.dumps(entry, sort_keys=True)
        groups.setdefault(key, {**entry, "inputs": []})["inputs"].append(feature.get("name"))
    return list(groups.values())


def decoder_text(facts: Facts) -> str:
    decoder = {k: v for k, v in dict_of(facts.config.get("decoder")).items() if k != "name"}
    options = shown(decoder)
    return f" ({options})" if options else ""


def parameter_count(facts: Facts) -> tuple[int | None, str]:
    counted = dict_of(facts.candidate.get("metrics")).get("parameters")
    if isinstance(counted, int):
        return counted, "counted by `tailor match`"
    return stored_values(facts.bundle_dir, facts.family), "values stored in the weight file"


def training_settings(facts: Facts) -> list[str]:
    """Optimiser, batches, epochs and schedule of a deep model."""
    t, train = facts.training, dict_of(facts.metrics.get("train"))
    epochs = f"{t.get('epochs')} planned epochs"
    if "epochs" in train:
        epochs = f"{train['epochs']} of {t.get('epochs')} planned epochs"
    settings = [
        f"optimizer `{t.get('optimizer')}`",
        f"learning rate {t.get('learning_rate')}",
        f"batch size {t.get('batch_size')}",
        epochs,
        f"loss `{t.get('loss')}`",
        f"learning-rate schedule `{t.get('lr_schedule')}`",
        f"precision `{t.get('precision')}`",
    ]
    settings += [f"{label} {t[key]}" for key, label in TRAINING.items() if t.get(key)]
    settings += [
        f"{key} ({shown(dict_of(t[key]))})" for key in ("privacy", "fairness") if t.get(key)
    ]
    if "best_epoch" in train:
        settings.append(f"best epoch {train['best_epoch']}")
    if number(train.get("seconds")) is not None:
        settings.append(f"{format_value(train['seconds'], '.1f')} s of training")
    return settings


# ---------------------------------------------------------------- intended use


def intended_use(facts: Facts) -> dict[str, Any]:
    inputs = {str(i.get("name")) for i in facts.inputs}
    return {
        "task": facts.task,
        "inputs": [f"`{i.get('name')}` ({i.get('type')})" for i in facts.inputs],
        "scenario": scenario_use(facts) if facts.scenario else None,
        "decisions": decision_requirements(facts),
        "labels": facts.labels if facts.task == "classification" else [],
        "numbers": any(i.get("type") == "number" for i in facts.inputs),
        "categories": any(i.get("type") == "category" for i in facts.inputs),
        "sensitive_inputs": [a for a in sensitive_attributes(facts) if a in inputs],
    }


def scenario_use(facts: Facts) -> dict[str, Any]:
    scenario = facts.scenario
    return {
        "name": scenario.get("name"),
        "domain": scenario.get("domain"),
        "purpose": [str(scenario[k]) for k in ("purpose", "description") if scenario.get(k)],
        "economics": dict_of(scenario.get("economics")),
        "value": value_of_outcomes(facts),
        "constraints": declared_constraints(dict_of(scenario.get("constraints"))),
        "reasoning": [str(line) for line in (facts.match or {}).get("reasoning") or []],
    }


def value_of_outcomes(facts: Facts) -> str | None:
    value = dict_of(facts.scenario.get("value"))
    currency = dict_of(facts.scenario.get("economics")).get("currency", "")
    if not value:
        return None
    if facts.task == "regression":
        cost = format_number(value.get("error_cost"))
        return f"Each unit of absolute error costs {cost} {currency}."
    outcomes = ("true_positive", "false_positive", "true_negative", "false_negative")
    each = ", ".join(f"{o.replace('_', ' ')} {format_number(value.get(o))}" for o in outcomes)
    positive = f" (positive label `{value['positive']}`)" if value.get("positive") else ""
    return f"Value per prediction in {currency}{positive}: {each}."


def declared_constraints(constraints: dict[str, Any]) -> list[str]:
    """The scenario's constraints that are set, in words."""
    found = []
    quality = dict_of(constraints.get("quality"))
    if quality:
        low = quality.get("min")
        bound = f"≥ {low}" if low is not None else f"≤ {quality.get('max')}"
        found.append(f"{quality.get('metric')} {bound}")
    limits = {
        "max_latency_p95_ms": "p95 latency ≤ {} ms",
        "max_model_size_mb": "size ≤ {} MB",
        "max_cost_per_1k": "cost per 1,000 predictions ≤ {}",
        "max_epsilon": "ε ≤ {}",
        "max_training_seconds": "training time ≤ {} s",
    }
    found += [text.format(constraints[k]) for k, text in limits.items() if constraints.get(k)]
    for limit in constraints.get("fairness") or []:
        found.append(f"{limit.get('metric')} on `{limit.get('attribute')}` ≤ {limit.get('max')}")
    if constraints.get("explanations") == "required":
        found.append("faithful explanations required")
    return found


def decision_requirements(facts: Facts) -> list[dict[str, Any]]:
    """Bundles that decide with per-group thresholds need the group column."""
    bundles = [("This model", dict_of(facts.manifest.get("decision")))]
    bundles.append(
        ("The mitigated bundle in `mitigated/`", dict_of(facts.mitigated.get("decision")))
    )
    return [
        {
            "subject": subject,
            "column": decision.get("group_attribute"),
            "groups": list(dict_of(decision.get("group_thresholds"))),
            "threshold": decision.get("threshold"),
        }
        for subject, decision in bundles
        if decision.get("group_thresholds")
    ]


# ---------------------------------------------------------------- factors


def sensitive_attributes(facts: Facts) -> list[str]:
    """Attributes audited, declared in the scenario, or reweighed over in training."""
    declared = [str(s) for s in facts.scenario.get("sensitive") or []]
    reweighed = [str(s) for s in facts.reweighing.get("sensitive") or []]
    return list(dict.fromkeys([*facts.audited, *declared, *reweighed]))


def factors(facts: Facts) -> dict[str, Any]:
    before = dict_of(facts.audit.get("before"))
    inputs = {str(i.get("name")) for i in facts.inputs}
    audited = [
        {
            "input": attribute in inputs,
            "attribute": attribute,
            "groups": list(dict_of(dict_of(report).get("groups"))),
            "rows": before.get("rows"),
            "data": facts.audit.get("data"),
        }
        for attribute, report in facts.audited.items()
    ]
    declared = [
        {"attribute": a, "groups": list(dict_of(r.get("groups"))), "input": a in inputs}
        for a, r in match_fairness(facts, "test").items()
    ]
    return {
        "audited": audited,
        "declared": declared,
        "reweighed": [str(s) for s in facts.reweighing.get("sensitive") or []],
        "method": facts.reweighing.get("method"),
        "auditable": facts.binary,
        "advice": audit_advice(facts),
    }


def audit_advice(facts: Facts) -> dict[str, Any]:
    """The exact ``tailor audit`` command, on the inputs named like protected
    attributes, else on the first group-like input."""
    groups = [str(i.get("name")) for i in facts.inputs if i.get("type") in ("category", "binary")]
    protected = [name for name in groups if any(word in name.lower() for word in PROTECTED)]
    columns = protected or groups[:1]
    source = dict_of(facts.data.get("split")).get("test_file") or facts.source
    flags = " ".join(f"--sensitive {column}" for column in columns)
    why = "the inputs named like protected attributes" if protected else "a group column"
    return {
        "columns": columns,
        "why": f"{why} ({names(columns)})",
        "command": f"tailor audit {facts.run_dir} --data {source} {flags}",
    }


# ---------------------------------------------------------------- metrics


def metric_choices(facts: Facts) -> dict[str, Any]:
    main = facts.splits.get("test") or next(iter(facts.splits.values()), {})
    order = METRIC_ORDER.get(facts.task, [])
    headline = main.get("headline") or (order[0] if order else None)
    quality = [
        {"name": name, "meaning": MEANINGS[name], "headline": name == headline}
        for name in order
        if name in main and name in MEANINGS
    ]
    return {
        "quality": quality,
        "ci_metric": dict_of(main.get("ci95")).get("metric"),
        "shares": class_shares(main),
        "shares_split": "test" if "test" in facts.splits else "evaluation",
        "decision": decision_rule(facts),
        "fairness": bool(facts.audit or match_fairness(facts, "test")),
    }


def class_shares(scores: dict[str, Any]) -> list[str]:
    """``label 23.6%`` per class, from the per-class support."""
    support = {k: dict_of(v).get("support") for k, v in dict_of(scores.get("per_class")).items()}
    counts = {k: v for k, v in support.items() if isinstance(v, int)}
    total = sum(counts.values())
    if not total or len(counts) > 20:
        return []
    return [f"`{label}` {count / total:.1%}" for label, count in counts.items()]


def decision_rule(facts: Facts) -> dict[str, Any] | None:
    if facts.task != "classification":
        return None
    decision = dict_of(facts.manifest.get("decision"))
    if not facts.binary:
        return {"kind": "argmax"}
    positive = facts.labels[1]
    if not decision:
        return {"kind": "half", "positive": positive}
    return {
        "kind": "thresholds",
        "positive": positive,
        "threshold": decision.get("threshold"),
        "column": decision.get("group_attribute"),
        "groups": list(dict_of(decision.get("group_thresholds")).items()),
    }


# ---------------------------------------------------------------- data


def evaluation_data(facts: Facts) -> dict[str, Any]:
    split = dict_of(facts.data.get("split"))
    rows = dict_of(facts.data_summary.get("rows"))
    before = dict_of(facts.audit.get("before"))
    return {
        "method": split.get("method"),
        "seed": split.get("seed"),
        "rows": [(name, rows[name]) for name in SPLITS if name in rows],
        "test_file": split.get("test_file"),
        "validation_is_test": split.get("validation_data") == "test",
        "audit": {"rows": before.get("rows"), "data": facts.audit.get("data")} if before else None,
    }


def training_data(facts: Facts) -> dict[str, Any]:
    dropped = facts.data_summary.get("dropped_rows")
    state = dict_of(facts.target.get("state"))
    scaling = {"mean": state.get("mean"), "std": state.get("std")}
    return {
        "rows": dict_of(facts.data_summary.get("rows")).get("train"),
        "dropped": dropped if isinstance(dropped, int) else None,
        "bad_rows": facts.data.get("bad_rows"),
        "reweighing": shown({k: v for k, v in facts.reweighing.items() if not isinstance(v, dict)}),
        "target": facts.target.get("name"),
        "target_scaling": scaling if facts.task == "regression" and state else None,
        "preprocessing": Table(
            ["input", "type", "preprocessing", "learned from the training rows"],
            [preprocessing_row(feature) for feature in facts.inputs],
            "Preprocessing",
        ),
    }


def pii_policy(data: dict[str, Any]) -> str:
    policy = str(data.get("pii", "allow"))
    columns = data.get("pii_columns")
    scope = f"the columns {names(columns)}" if columns else "every text column"
    return PII_POLICIES.get(policy, f"data.pii is `{policy}`.").format(scope=scope)


def preprocessing_row(feature: dict[str, Any]) -> list[str]:
    """One input: its options and what was fitted on the training rows."""
    kind = str(feature.get("type"))
    options, state = dict_of(feature.get("options")), dict_of(feature.get("state"))
    how = shown(options)
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
    return [cell(f"`{feature.get('name')}`"), kind, cell(how), cell(learned)]


# ---------------------------------------------------------------- quantitative analyses


def quantitative_analyses(facts: Facts) -> dict[str, Any]:
    tables = [quality_table(facts)] if facts.splits else []
    tables += per_class_table(facts) + operation_table(facts) + privacy_table(facts)
    tables += audit_tables(facts) + match_fairness_tables(facts) + match_limit_tables(facts)
    tables += importance_table(facts)
    bundle_mb = None
    if not facts.candidate:
        files = [f for f in facts.bundle_dir.rglob("*") if f.is_file()]
        bundle_mb = sum(f.stat().st_size for f in files) / 1e6
    return {
        "tables": tables,
        "bundle_mb": bundle_mb,
        "explained": len(facts.explanations.get("rows") or []),
    }


def quality_table(facts: Facts) -> Table:
    """Each metric per split, then the headline's 95% interval."""
    splits = facts.splits
    order = METRIC_ORDER.get(facts.task, [])
    present = [m for m in order if any(number(s.get(m)) is not None for s in splits.values())]
    rows = [[m, *(cell(s.get(m)) for s in splits.values())] for m in present]
    cis = [dict_of(s.get("ci95")) for s in splits.values()]
    metric = next((ci.get("metric") for ci in cis if ci), None)
    if metric:
        texts = [interval(ci.get("low"), ci.get("high")) if ci else "—" for ci in cis]
        rows.append([f"{metric} 95% CI", *texts])
    return Table(["metric", *splits], rows, "Quality per split")


def per_class_table(facts: Facts) -> list[Table]:
    split = "test" if "test" in facts.splits else next(iter(facts.splits), "")
    per_class = dict_of(facts.splits.get(split, {}).get("per_class"))
    if not per_class or len(per_class) > 20:
        return []
    keys = ["precision", "recall", "f1", "support"]
    rows = [
        [cell(f"`{k}`"), *(cell(dict_of(v).get(c)) for c in keys)] for k, v in per_class.items()
    ]
    return [Table(["class", *keys], rows, f"Per class on {split}")]


def operation_table(facts: Facts) -> list[Table]:
    """Speed, size and money of a match model, measured on the validation rows."""
    metrics = dict_of(facts.candidate.get("metrics"))
    if not metrics:
        return []
    rows = [
        [label, cell(format_number(metrics[k]))]
        for k, label in OPERATION.items()
        if metrics.get(k) is not None
    ]
    economics = dict_of(facts.scenario.get("economics"))
    cost, volume = number(metrics.get("cost_per_1k")), economics.get("predictions_per_month")
    if cost is not None and isinstance(volume, int):
        monthly = f"{format_number(cost * volume / 1000)} {economics.get('currency', '')}"
        rows.append([f"cost of {format_number(volume)} predictions a month", monthly])
    test = dict_of(dict_of((facts.match or {}).get("test")).get("metrics"))
    values = {
        "value per 1k decisions, validation": metrics.get("value_per_1k"),
        "value per 1k at a 0.5 threshold, validation": metrics.get("baseline_value_per_1k"),
        "value per 1k decisions, test": test.get("value_per_1k"),
    }
    rows += [[label, format_number(v)] for label, v in values.items() if v is not None]
    return [Table(["figure", "value"], rows, "Operation (`tailor match`, validation rows)")]


def privacy_table(facts: Facts) -> list[Table]:
    privacy = facts.privacy
    rows = [
        [label, cell(format_number(privacy[k]))] for k, label in PRIVACY.items() if k in privacy
    ]
    return [Table(["differential privacy", "value"], rows, "Privacy (DP-SGD)")] if rows else []


def audit_tables(facts: Facts) -> list[Table]:
    """Every group's rates with intervals; the gaps before and after mitigation."""
    before, after = dict_of(facts.audit.get("before")), dict_of(facts.audit.get("after"))
    tables = [group_table(a, dict_of(r), "audit") for a, r in facts.audited.items()]
    if not after:
        return tables
    rows = [["accuracy", "all rows", cell(before.get("accuracy")), cell(after.get("accuracy"))]]
    for attribute, report in facts.audited.items():
        new = dict_of(dict_of(after.get("attributes")).get(attribute))
        old = dict_of(report)
        rows += [[gap, f"`{attribute}`", cell(old.get(gap)), cell(new.get(gap))] for gap in GAPS]
    tables.append(
        Table(["figure", "attribute", "before", "after"], rows, "Before and after mitigation")
    )
    attributes = dict_of(after.get("attributes")).items()
    return tables + [group_table(a, dict_of(r), "audit after mitigation") for a, r in attributes]


def group_table(attribute: str, report: dict[str, Any], where: str) -> Table:
    """One row per group: n and each rate, with its 95% interval when known."""
    rows = []
    for group, stats in dict_of(report.get("groups")).items():
        cis = dict_of(dict_of(stats).get("ci95"))
        rates = [rate_cell(dict_of(stats).get(rate), cis.get(rate)) for rate in GROUP_RATES]
        rows.append([cell(group), cell(dict_of(stats).get("n")), *rates])
    gaps = "; ".join(f"{gap} {format_value(report[gap])}" for gap in GAPS if gap in report)
    dashes = any("—" in text for row in rows for text in row)
    notes = [f"{gaps}."] if gaps else []
    small = [dict_of(g) for g in report.get("too_small") or []]
    if small:
        judged = dict_of(report.get("judged"))
        between = "; ".join(f"{gap} {format_value(v)}" for gap, v in judged.items())
        notes += [f"{too_small_text(small)} Between the other groups: {between}."]
    notes += ["A dash marks a rate the group has no rows for."] if dashes else []
    return Table(["group", "n", *GROUP_RATES], rows, f"`{attribute}` ({where})", " ".join(notes))


def rate_cell(value: Any, ci: Any) -> str:
    if isinstance(ci, list) and len(ci) == 2:
        return cell(f"{format_value(value)} {interval(*ci)}")
    return cell(value)


def match_fairness_tables(facts: Facts) -> list[Table]:
    """Gaps on validation and test against the scenario's limits; test groups."""
    validation, test = match_fairness(facts, "validation"), match_fairness(facts, "test")
    limits = fairness_limits(facts)
    tables = []
    for attribute in dict.fromkeys([*validation, *test]):
        rows = [
            [
                gap,
                cell(validation.get(attribute, {}).get(gap)),
                cell(test.get(attribute, {}).get(gap)),
                cell(limits.get(attribute, {}).get(gap, "no limit")),
            ]
            for gap in GAPS
        ]
        tables.append(Table(["gap", "validation", "test", "limit"], rows, f"`{attribute}` gaps"))
        if attribute in test:
            tables.append(group_table(attribute, test[attribute], "test"))
    return tables


def match_limit_tables(facts: Facts) -> list[Table]:
    """Each fairness limit: the gap over the judged groups on validation and test, the
    effective limit the decision was tuned to, and the groups too small to judge."""
    if facts.match is None:
        return []
    validation = dict_of(dict_of(facts.candidate.get("metrics")).get("limits"))
    test = dict_of(dict_of(dict_of(facts.match.get("test")).get("metrics")).get("limits"))
    tables = []
    for name in dict.fromkeys([*validation, *test]):
        val, tst = dict_of(validation.get(name)), dict_of(test.get(name))
        scope = dict_of(val.get("scope") or tst.get("scope"))
        rows = [
            ["judged groups (rows)", judged_groups(val), judged_groups(tst)],
            ["gap between them", cell(val.get("gap")), cell(tst.get("gap"))],
            ["effective limit (limit − margin)", cell(val.get("effective_limit")), "—"],
        ]
        note = f"Groups with fewer than {scope.get('min_group_size')} rows are not judged."
        if scope.get("reference"):
            note += f" Each group is measured against `{scope['reference']}`."
        for split, figures in (("validation", val), ("test", tst)):
            small = [dict_of(g) for g in figures.get("too_small") or []]
            if small:
                note += f" On {split}: {too_small_text(small)}"
        tables.append(Table(["", "validation", "test"], rows, f"Fairness limit `{name}`", note))
    return tables


def too_small_text(groups: list[dict[str, Any]]) -> str:
    """``Too few rows to judge: `A` (3 rows, selection rate 0.33 [0.06, 0.79]); …``."""
    shown = []
    for group in groups:
        rate = dict_of(group.get("selection_rate"))
        each = rate_cell(rate.get("value"), rate.get("ci95"))
        shown.append(f"`{group.get('group')}` ({group.get('n')} rows, selection rate {each})")
    return f"Too few rows to judge: {'; '.join(shown)}."


def judged_groups(figures: dict[str, Any]) -> str:
    groups = dict_of(figures.get("groups"))
    return cell(", ".join(f"{g} ({n:,})" for g, n in groups.items()) or "—")


def importance_table(facts: Facts) -> list[Table]:
    ranking = dict_of(facts.explanations.get("permutation_importance"))
    ordered = sorted(ranking.items(), key=lambda kv: -float(dict_of(kv[1]).get("mean", 0.0)))
    rows = [
        [cell(f"`{k}`"), cell(dict_of(v).get("mean")), cell(dict_of(v).get("std"))]
        for k, v in ordered
    ]
    title = "Permutation importance (drop in the headline metric when the input is shuffled)"
    return [Table(["input", "mean drop", "std"], rows, title)] if rows else []


# ---------------------------------------------------------------- ethics, caveats


def ethical_considerations(facts: Facts) -> dict[str, Any]:
    return {
        "gaps": measured_gaps(facts),
        "privacy": facts.privacy,
        "domain": facts.scenario.get("domain"),
        "stakes": STAKES.get(str(facts.scenario.get("domain"))),
    }


def measured_gaps(facts: Facts) -> list[dict[str, Any]]:
    """Every fairness gap in the files, with the limit it is judged against."""
    after = dict_of(dict_of(facts.audit.get("after")).get("attributes"))
    reports = [("audit", facts.audited), ("audit after mitigation", after)]
    reports += [(split, match_fairness(facts, split)) for split in SPLITS]
    limits = fairness_limits(facts)
    found = []
    for where, attributes in reports:
        for attribute, report in attributes.items():
            values = {gap: number(dict_of(report).get(gap)) for gap in GAPS}
            found += [judged_gap(where, attribute, gap, value, limits.get(attribute, {}))
                      for gap, value in values.items() if value is not None]  # fmt: skip
    return found


def judged_gap(
    where: str, attribute: str, gap: str, value: float, limits: dict[str, float]
) -> dict[str, Any]:
    """One gap beside its bound: the scenario's limit, else GAP_LIMIT."""
    limit = number(limits.get(gap))
    bound = GAP_LIMIT if limit is None else limit
    return {"where": where, "attribute": attribute, "gap": gap, "value": value,
            "bound": bound, "scenario_limit": limit is not None}  # fmt: skip


def caveats(facts: Facts) -> dict[str, Any]:
    match = facts.match or {}
    test = dict_of(match.get("test"))
    checks = [
        {
            "name": name,
            "held": dict_of(c).get("pass") is True,
            "value": dict_of(c).get("value"),
            "limit": dict_of(c).get("limit"),
        }
        for name, c in dict_of(test.get("constraints")).items()
    ]
    groups = measured_groups(facts)
    return {
        "flagged_groups": [g for g in map(group_flags, groups) if g["flagged"]],
        "gaps_above": gaps_above(facts),
        "groups_measured": bool(groups),
        "small_group": SMALL_GROUP,
        "wide_group": WIDE_GROUP_INTERVAL,
        "gap_limit": GAP_LIMIT,
        "mitigation": mitigation_changes(facts),
        "epochs": epochs_run(facts),
        "wide_test": wide_test_interval(facts),
        "test_constraints": checks,
        "stopped_by_budget": dict_of(match.get("search")).get("stopped_by_budget") is True,
        "unexplainable": dict_of(facts.candidate.get("metrics")).get("explainable") is False,
    }


def gaps_above(facts: Facts) -> list[dict[str, Any]]:
    """Gaps above GAP_LIMIT, each with the command that narrows it (or None)."""
    above = [gap for gap in measured_gaps(facts) if gap["value"] > GAP_LIMIT]
    return [{**gap, "remedy": remedy(facts, gap)} for gap in above]


def remedy(facts: Facts, gap: dict[str, Any]) -> str | None:
    """``tailor audit --mitigate`` for a gap of an audit not yet mitigated."""
    method = MITIGATIONS.get(gap["gap"])
    if gap["where"] != "audit" or method is None or facts.audit.get("after"):
        return None
    data, attribute = facts.audit.get("data"), gap["attribute"]
    return f"tailor audit {facts.run_dir} --data {data} --sensitive {attribute} --mitigate {method}"


def measured_groups(facts: Facts) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(where, attribute, group, stats) of every group in the audit or on the match's test."""
    found = []
    for where, attributes in (("audit", facts.audited), ("test", match_fairness(facts, "test"))):
        for attribute, report in attributes.items():
            groups = dict_of(dict_of(report).get("groups"))
            found += [(where, attribute, str(g), dict_of(s)) for g, s in groups.items()]
    return found


def group_flags(measured: tuple[str, str, str, dict[str, Any]]) -> dict[str, Any]:
    """Why a group's figures are uncertain: few rows, wide intervals."""
    where, attribute, group, stats = measured
    n = stats.get("n")
    small = isinstance(n, int) and n < SMALL_GROUP
    widths = {rate: ci[1] - ci[0] for rate, ci in dict_of(stats.get("ci95")).items()
              if isinstance(ci, list) and len(ci) == 2}  # fmt: skip
    wide = [
        f"{rate} interval {w:.3f} wide" for rate, w in widths.items() if w > WIDE_GROUP_INTERVAL
    ]
    size = [f"{'only ' if small else ''}{n:,} rows"] if isinstance(n, int) else []
    return {"where": where, "attribute": attribute, "group": group, "reasons": size + wide,
            "flagged": small or bool(wide)}  # fmt: skip


def mitigation_changes(facts: Facts) -> dict[str, Any] | None:
    """Accuracy before and after mitigation, and every gap that rose."""
    before, after = dict_of(facts.audit.get("before")), dict_of(facts.audit.get("after"))
    if not after:
        return None
    raised = []
    for attribute, report in facts.audited.items():
        new = dict_of(dict_of(after.get("attributes")).get(attribute))
        for gap in GAPS:
            old_value, new_value = number(dict_of(report).get(gap)), number(new.get(gap))
            if old_value is not None and new_value is not None and new_value > old_value:
                raised.append(
                    {"gap": gap, "attribute": attribute, "before": old_value, "after": new_value}
                )
    return {
        "accuracy_before": before.get("accuracy"),
        "accuracy_after": after.get("accuracy"),
        "raised": raised,
        "infeasible": dict_of(facts.audit.get("mitigation")).get("feasible") is False,
    }


def epochs_run(facts: Facts) -> dict[str, Any] | None:
    train = dict_of(facts.metrics.get("train"))
    if facts.family != "deep" or "epochs" not in train:
        return None
    return {
        "run": train["epochs"],
        "planned": facts.training.get("epochs"),
        "best": train.get("best_epoch"),
        "early_stopped": train.get("early_stopped") is True,
    }


def wide_test_interval(facts: Facts) -> dict[str, Any] | None:
    test = facts.splits.get("test", {})
    ci = dict_of(test.get("ci95"))
    low, high = number(ci.get("low")), number(ci.get("high"))
    if ci.get("metric") in ("mae", "rmse"):
        return None  # in the target's units: no scale-free width to judge
    if low is None or high is None or high - low <= WIDE_INTERVAL:
        return None
    rows = test.get("n") or dict_of(facts.data_summary.get("rows")).get("test")
    return {"metric": ci.get("metric"), "width": high - low, "n": rows}
