"""``match.json``: what ``tailor match`` tried and measured, what it recommends and
why, and whether the pick's constraints held on the test split.

Parts that do not apply (fairness without sensitive columns, decisions for a
regression, the test re-check when nothing was feasible) are left out of the
file, not written as null; reports leave them out of the page.
"""

from __future__ import annotations

from pydantic import ConfigDict, Field, JsonValue

from tailorml.config import Scenario
from tailorml.config.scenario import LOWER_IS_BETTER
from tailorml.records.audit import DecisionRule, SmallGroup
from tailorml.records.base import Part, Record
from tailorml.records.metrics import Scores

GAP_NAMES = {"demographic_parity_difference": "DPD", "equalized_odds_difference": "EOD"}


class ScenarioData(Part):
    """The scenario's data section: where the rows come from and what is predicted."""

    model_config = ConfigDict(extra="allow")  # the rest of the resolved section, as written
    __pydantic_extra__: dict[str, JsonValue] = Field(init=False)

    source: str | None = None
    target: str | None = None


class ScenarioFacts(Part):
    """The resolved scenario as it was matched (:class:`tailorml.config.Scenario`
    dumped): the parts reports read are typed, the rest is kept as written."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, JsonValue] = Field(init=False)

    name: str | None = None
    domain: str | None = None
    task: str | None = None
    data: ScenarioData = ScenarioData()

    OMIT_UNSET = True  # dump(): the scenario as match.json holds it

    def spec(self) -> Scenario:
        """The scenario itself, validated again."""
        return Scenario.model_validate(self.dump())


class ColumnFacts(Part):
    """One column's role in the match, its feature type (None: left out) and why."""

    name: str
    role: str
    type: str | None
    reason: str


class MatchData(Part):
    """Rows per split, broken rows dropped, and each column's role (empty when the
    scenario names its input features)."""

    rows: dict[str, int]
    dropped_rows: int
    columns: list[ColumnFacts]


class Portfolio(Part):
    """The candidates that entered the search, and the rule's reasons in words."""

    reasons: list[str]
    candidates: list[str]


class Rung(Part):
    """One rung of successive halving: the share of rows, who trained, who went on."""

    rung: int
    fraction: float
    trained: list[str]
    promoted: list[str]


class SearchFacts(Part):
    """How the search went."""

    seed: int
    budget_s: float
    elapsed_s: float
    rungs: list[Rung]
    completed_trials: int
    stopped_by_budget: bool
    backend: str | None = None  # local or ray


class GroupFigures(Part):
    """One group's decisions on a split (a rate is None where it is undefined)."""

    n: int
    selection_rate: float | None
    accuracy: float | None
    tpr: float | None = None
    fpr: float | None = None


class AttributeFairness(Part):
    """Parity and odds gaps and ratios over every group of one attribute (fairlearn)."""

    demographic_parity_difference: float | None = None
    demographic_parity_ratio: float | None = None
    equalized_odds_difference: float | None = None
    equalized_odds_ratio: float | None = None
    groups: dict[str, GroupFigures] = {}


class GroupScopeFacts(Part):
    """Which groups a fairness limit judges."""

    min_group_size: int
    groups: list[str] | None
    reference: str | None


class LimitFigures(Part):
    """One fairness limit on one split: the gap between the groups large enough to
    judge (None when fewer than two are), their sizes, and the groups too small."""

    metric: str
    judged: bool
    gap: float | None
    se: float | None
    groups: dict[str, int]
    too_small: list[SmallGroup]
    scope: GroupScopeFacts
    effective_limit: float | None = None  # the limit less the margin tuned to (validation)
    margin: float | None = None


class Quality(Part):
    """The quality metric the match ranks by, with its 95% interval."""

    metric: str | None
    value: float | None
    low: float | None = None
    high: float | None = None

    @property
    def higher_is_better(self) -> bool:
        return self.metric not in LOWER_IS_BETTER


class Tuning(Part):
    """How the decision thresholds were chosen on validation."""

    margin_z: float
    certified: bool  # every constraint met with the safety margin
    feasible: bool  # every constraint met as measured
    binding: str | None
    effective_floors: dict[str, float]
    not_judged: list[str]
    conflict: list[str]  # when infeasible: each broken constraint at the best compromise


class Figures(Scores):
    """What a candidate measured on validation (or the pick on test): the quality
    metrics by name (see :class:`Scores`), value, fairness, costs and decisions."""

    value_per_1k: float | None = None  # money per 1,000 predictions
    fairness: dict[str, AttributeFairness] = {}
    limits: dict[str, LimitFigures] = {}
    quality: Quality | None = None
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    throughput_rows_per_s: float | None = None
    size_mb: float | None = None
    cost_per_1k: float | None = None
    explainable: bool | None = None
    parameters: int | None = None
    flops_per_row: int | None = None
    epsilon: float | None = None  # DP-SGD's ε spent, None for a non-private model
    train_seconds: float | None = None
    train_device: str | None = None
    train_cost: float | None = None
    decision: DecisionRule | None = None  # a binary classifier's tuned thresholds
    baseline_value_per_1k: float | None = None  # value at the plain 0.5 threshold
    effective_limits: dict[str, float] = {}
    tuning: Tuning | None = None

    @property
    def fairness_gap(self) -> float | None:
        """The largest fairness gap of any attribute (None without fairness)."""
        gaps = (getattr(report, key) for report in self.fairness.values() for key in GAP_NAMES)
        return max((gap for gap in gaps if gap is not None), default=None)


class Check(Part):
    """One constraint: the measured value, the limit and whether it passed. A
    fairness limit with too few groups to judge passes, ``judged`` false."""

    model_config = ConfigDict(validate_by_name=True, serialize_by_alias=True)

    value: float | bool | None
    limit: float | str
    passed: bool = Field(validation_alias="pass", serialization_alias="pass")  # a keyword
    judged: bool | None = None
    note: str | None = None


class CandidateResult(Part):
    """One finalist of the search and how it fares against the scenario."""

    name: str
    family: str
    params: dict[str, JsonValue] = {}
    status: str = "finished"
    error: str | None = None
    metrics: Figures
    constraints: dict[str, Check] = {}
    feasible: bool
    value_per_1k: float | None = None
    rejected_because: list[str] = []


class TestCheck(Part):
    """The recommended model re-measured on the test split, and its constraints there."""

    metrics: Figures
    constraints: dict[str, Check]
    fairness: dict[str, AttributeFairness] | None = None


class ParetoAxes(Part):
    maximise: list[str]
    minimise: list[str]


class MatchResult(Record):
    """``match.json``: the scenario, the data, the portfolio and search, every
    finalist with its figures and constraint checks, the pick and why, the Pareto
    front, the pick's re-check on test and the groups too small to judge."""

    OMIT_UNSET = True  # the parts that apply, none of those that do not

    scenario: ScenarioFacts = ScenarioFacts()
    data: MatchData | None = None
    portfolio: Portfolio | None = None
    search: SearchFacts | None = None
    candidates: list[CandidateResult] = []
    recommended: str | None = None
    reasoning: list[str] = []
    binding_constraint: str | None = None  # when nothing is feasible: what blocks most
    closest: list[str] = []
    pareto: list[str] = []
    pareto_axes: ParetoAxes | None = None
    test: TestCheck | None = None
    small_groups: dict[str, dict[str, list[SmallGroup]]] = {}  # split → limit → groups

    @property
    def chosen(self) -> CandidateResult | None:
        """The recommended candidate's entry (None when nothing was recommended)."""
        return next((c for c in self.candidates if c.name == self.recommended), None)
