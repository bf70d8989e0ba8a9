"""The scenario: a task, its data, and the market's constraints and values.

``tailor match SCENARIO`` reads one of these and recommends the model that
meets every constraint with the most business value. See docs/scenario.md.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from tailorml.config.model import DataConfig, InputFeature, Strict

QualityMetric = Literal[
    "accuracy",
    "f1_macro",
    "roc_auc",
    "mae",
    "rmse",
    "r2",
    "chrf",
    "bleu",
    "exact_match",
    "perplexity",
]
LOWER_IS_BETTER = {"mae", "rmse", "perplexity"}
GENERATION_METRICS = {"chrf", "bleu", "exact_match", "perplexity"}
# The values each quality metric can take (None: unbounded on that side).
METRIC_RANGES: dict[str, tuple[float | None, float | None]] = {
    "accuracy": (0, 1), "f1_macro": (0, 1), "roc_auc": (0, 1),
    "r2": (None, 1), "mae": (0, None), "rmse": (0, None),
    "chrf": (0, 100), "bleu": (0, 100), "exact_match": (0, 1), "perplexity": (1, None),
}  # fmt: skip


class Budget(Strict):
    seconds: float = Field(
        default=120, gt=0, description="Wall-clock seconds for the whole search."
    )
    max_trials: int | None = Field(default=None, ge=1, description="Cap on candidate trainings.")
    workers: int = Field(default=1, ge=1, description="Candidates trained in parallel.")


class Economics(Strict):
    price_per_cpu_hour: float = Field(default=0.05, ge=0, description="Money per core-hour.")
    price_per_gpu_hour: float = Field(
        default=2.5, ge=0, description="Money per GPU-hour: training of networks on a GPU."
    )
    predictions_per_month: int = Field(default=1_000_000, ge=0)
    currency: str = "USD"


class QualityConstraint(Strict):
    metric: QualityMetric = "accuracy"
    min: float | None = Field(default=None, description="For accuracy, f1_macro, roc_auc, r2.")
    max: float | None = Field(default=None, description="For mae and rmse.")

    @field_validator("min", "max")
    @classmethod
    def _within_range(cls, bound: float | None, info: ValidationInfo) -> float | None:
        """A bound the metric can never reach (accuracy 1.5, rmse -1) is an error."""
        metric = info.data.get("metric")
        if bound is None or metric is None:
            return bound
        low, high = METRIC_RANGES[metric]
        if (low is not None and bound < low) or (high is not None and bound > high):
            span = f"at most {high:g}" if high is not None else f"at least {low:g}"
            if low is not None and high is not None:
                span = f"between {low:g} and {high:g}"
            facts = {"m": metric, "span": span, "w": info.field_name}
            raise PydanticCustomError(
                "quality_range",
                "{m} is always {span}, so a {w} of {b} can never be met",
                facts | {"b": f"{bound:g}"},
            )
        return bound

    @model_validator(mode="after")
    def _one_bound(self) -> QualityConstraint:
        wanted = "max" if self.metric in LOWER_IS_BETTER else "min"
        other = "min" if wanted == "max" else "max"
        if getattr(self, wanted) is None or getattr(self, other) is not None:
            raise PydanticCustomError(
                "quality_bound",
                "quality metric '{m}' takes a '{w}' bound only",
                {"m": self.metric, "w": wanted},
            )
        return self


class FairnessConstraint(Strict):
    attribute: str = Field(min_length=1)
    metric: Literal["demographic_parity_difference", "equalized_odds_difference"] = (
        "demographic_parity_difference"
    )
    max: float = Field(ge=0, le=1)
    min_group_size: int = Field(
        default=30,
        ge=1,
        description="Groups with fewer rows in the split being judged are reported, not judged.",
    )
    groups: list[str] | None = Field(
        default=None, min_length=2, description="Judge only these groups of the attribute."
    )
    reference: str | None = Field(
        default=None, description="Measure each group against this one (not every pair)."
    )

    @model_validator(mode="after")
    def _reference_in_groups(self) -> FairnessConstraint:
        if self.reference is not None and self.groups and self.reference not in self.groups:
            raise PydanticCustomError(
                "fairness_reference",
                "reference group '{r}' is not among the groups listed: {g}",
                {"r": self.reference, "g": ", ".join(self.groups)},
            )
        return self


class Constraints(Strict):
    quality: QualityConstraint | None = None
    max_latency_p95_ms: float | None = Field(default=None, gt=0)
    max_cost_per_1k: float | None = Field(default=None, ge=0)
    max_model_size_mb: float | None = Field(default=None, gt=0)
    max_training_seconds: float | None = Field(default=None, gt=0)
    fairness: list[FairnessConstraint] = []
    explanations: Literal["required", "optional"] = "optional"
    max_epsilon: float | None = Field(
        default=None, gt=0, description="Differential privacy: only DP-trained candidates."
    )


class Value(Strict):
    """Money per prediction of each outcome (negative for a cost).

    Binary classification uses all four; a multi-class task earns
    ``true_positive`` for a right answer and ``false_positive`` for a wrong
    one; regression costs ``error_cost`` per unit of absolute error.
    """

    positive: str | None = Field(default=None, description="The label that counts as positive.")
    true_positive: float = 1.0
    false_positive: float = 0.0
    true_negative: float = 1.0
    false_negative: float = 0.0
    error_cost: float = Field(default=1.0, ge=0)


class Decisions(Strict):
    group_thresholds: bool = Field(
        default=False,
        description="Allow one decision threshold per group of a sensitive attribute.",
    )


class Scenario(Strict):
    """A task, its data, its constraints and the value of each outcome."""

    name: str = Field(min_length=1)
    domain: Literal["medical", "finance", "education", "transport", "retail", "other"] = "other"
    task: Literal["classification", "regression", "generation"]
    data: DataConfig
    input_features: list[InputFeature] | None = Field(
        default=None, description="Leave out to infer every column but the target."
    )
    columns: dict[str, Literal["feature", "number", "category", "binary", "text", "exclude"]] = (
        Field(default={}, description="Without input_features: override a column's role.")
    )
    sensitive: list[str] = Field(default=[], description="Columns audited for fairness.")
    use_sensitive_as_features: bool = False
    budget: Budget = Budget()
    economics: Economics = Economics()
    constraints: Constraints = Constraints()
    value: Value = Value()
    decisions: Decisions = Decisions()
    seed: int = 0

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        if self.data.target is None:
            raise PydanticCustomError("no_target", "data.target is required in a scenario", {})
        missing = [
            f.attribute for f in self.constraints.fairness if f.attribute not in self.sensitive
        ]
        if missing:
            raise PydanticCustomError(
                "fairness_attribute",
                "fairness constraint on '{a}' needs it listed under 'sensitive'",
                {"a": missing[0]},
            )
        quality = self.constraints.quality
        metric_task = "classification"
        if quality and quality.metric in {"mae", "rmse", "r2"}:
            metric_task = "regression"
        if quality and quality.metric in GENERATION_METRICS:
            metric_task = "generation"
        if quality and metric_task != self.task:
            raise PydanticCustomError(
                "quality_metric",
                "quality metric '{m}' does not fit a {t} task",
                {"m": quality.metric, "t": self.task},
            )
        if self.task == "generation" and not self.input_features:
            raise PydanticCustomError(
                "generation_inputs",
                "a generation scenario lists its one text input under input_features",
                {},
            )
        if self.constraints.fairness and self.task != "classification":
            raise PydanticCustomError(
                "fairness_task", "fairness limits need a classification task", {}
            )
        return self
