"""``metrics.json``: what a trained run scored on each split, and how it trained.

A run writes only the parts that apply (no ``validation`` without a validation
split, ``privacy`` for a private run, ``fairness`` for a reweighed one): a part
left out is absent from the file, not written as null.
"""

from __future__ import annotations

from pydantic import ConfigDict, Field

from tailorml.records.audit import Reweighing
from tailorml.records.base import Part, Record

Number = int | float  # a figure that stays an int when it is one (a count)


class Interval(Part):
    """The 95% bootstrap interval of the split's headline metric."""

    metric: str
    low: float | None
    high: float | None


class ClassScores(Part):
    """Precision, recall and F1 of one class, and its rows."""

    precision: float
    recall: float
    f1: float
    support: int


class Scores(Part):
    """One split's quality figures, as :func:`tailorml.evaluate.evaluate` returns them.

    The metrics themselves vary by task (``accuracy``, ``roc_auc``… or ``mae``,
    ``r2``…): they are the record's other keys, each a number or None, read by
    name with ``scores["accuracy"]`` or all at once as :attr:`figures`.
    """

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, Number | None] = Field(init=False)
    OMIT_UNSET = True  # the keys the scores were given

    headline: str | None = None  # the metric reported first
    ci95: Interval | None = None
    n: int | None = None  # rows scored
    per_class: dict[str, ClassScores] | None = None
    confusion_matrix: list[list[int]] | None = None  # rows: true class, columns: predicted
    dropped_rows: int | None = None  # broken rows left out under bad_rows: drop

    @property
    def figures(self) -> dict[str, Number | None]:
        """The metrics by name, in the order they were measured."""
        return self.__pydantic_extra__


class DataFacts(Part):
    """Where the rows came from and how many each split holds."""

    source: str
    rows: dict[str, int]
    dropped_rows: int


class TrainFigures(Part):
    """How training went (each figure optional: older or hand-made runs lack some)."""

    epochs: int | None = None
    best_epoch: int | None = None
    early_stopped: bool | None = None
    seconds: float | None = None  # summed epoch time
    wall_seconds: float | None = None
    samples_per_s: float | None = None
    final_loss: float | None = None
    processes: int | None = None
    device: str | None = None


class Privacy(Part):
    """DP-SGD: the ε spent at δ, the target ε, the clip norm, the noise, and what
    the guarantee covers; ``changes`` lists layers swapped to train privately."""

    epsilon: float
    delta: float
    target_epsilon: float
    max_grad_norm: float
    noise_multiplier: float
    sample_rate: float
    accountant: str
    covers: str
    changes: list[str] | None = None


class GenerationFacts(Part):
    """A text generator's run: which generator, its size, the training texts cut."""

    generator: str
    parameters: int
    truncated_sources: int  # training inputs over generation.max_source_tokens, cut
    truncated_targets: int  # training targets over generation.max_target_tokens, cut
    latency: dict[str, float] | None = None  # one request at a time, on test inputs


class Metrics(Record):
    """``metrics.json`` of a run folder: the scores per split and the training figures."""

    # the parts the run has, none of those it lacks: an optional figure left unset
    # is absent, one set to None is written as null
    OMIT_UNSET = True

    task: str | None = None  # classification, regression or generation
    target: str | None = None
    labels: list[str] = []  # class names in class-index order
    run_name: str | None = None  # shown instead of the folder's name
    data_source: str | None = None  # shown instead of data.source
    data: DataFacts | None = None
    train: TrainFigures | None = None
    privacy: Privacy | None = None
    validation: Scores | None = None
    test: Scores | None = None
    fairness: Reweighing | None = None  # training-time reweighing
    generation: GenerationFacts | None = None  # a text output's generator

    @property
    def splits(self) -> dict[str, Scores]:
        """The scored splits, validation first."""
        found = {"validation": self.validation, "test": self.test}
        return {name: scores for name, scores in found.items() if scores is not None}
