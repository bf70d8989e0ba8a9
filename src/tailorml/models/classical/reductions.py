"""Fairness-constrained binary classifiers: fairlearn's ExponentiatedGradient
(Agarwal et al., 2018) around a logistic-regression or LightGBM base learner.

The fitted model is a randomized mixture of deterministic classifiers h_j with
weights w_j. ``predict_raw`` returns its probability mass function,
p(positive | x) = Σ_j w_j · h_j(x) (fairlearn's ``_pmf_predict``), so a decision
threshold of 0.5 on p is the deterministic counterpart of fairlearn's
randomized ``predict``.

Saved without pickle: a linear mixture as stacked coefficients, intercepts,
weights (and IDF weights) in ``reductions.safetensors``; a LightGBM mixture as
one booster per member in ``reductions_{j}.txt`` (LightGBM's text format) plus
``reductions.json`` with the weights. A member that fairlearn replaced by a
constant classifier (every reduced label equal) is saved as a linear member
with zero coefficients, or as ``{"constant": c}`` in the JSON.

The sensitive attribute is needed at training time only; it is not an input.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import torch
from fairlearn.reductions import DemographicParity, EqualizedOdds, ExponentiatedGradient
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from tailorml.errors import ConfigError, dash_hint
from tailorml.io import atomic_write_json, atomic_write_text, read_json
from tailorml.models.classical.base import ClassicalModel, Inputs, class_ids, register_classical
from tailorml.models.classical.design import (
    TABLE_TYPES,
    dense_design,
    fit_idf,
    load_linear,
    save_linear,
    sparse_design,
)
from tailorml.models.classical.lightgbm import DEFAULTS, FIXED, read_booster, tree_nodes
from tailorml.models.family import Candidate, Params, Proposal, Task

CONSTRAINTS = {"demographic_parity": DemographicParity, "equalized_odds": EqualizedOdds}
SHARED = {
    "base": "linear",
    "constraint": "demographic_parity",
    "difference_bound": 0.01,
    "eps": 0.01,
    "max_iter": 50,
}
BASE_DEFAULTS: dict[str, Params] = {
    "linear": {"C": 1.0},
    # modest: ExponentiatedGradient refits the base learner up to max_iter times
    "lightgbm": DEFAULTS | {"n_estimators": 100, "learning_rate": 0.1},
}
Member = lgb.Booster | int  # a LightGBM member: a booster, or a constant 0/1 classifier


def resolved_params(params: Params) -> Params:
    """The family's params with defaults filled in, checked.

    Raises:
        ConfigError: an unknown base, constraint or key, naming the nearest valid one.
    """
    base = str(params.get("base", SHARED["base"]))
    check_choice("base", base, list(BASE_DEFAULTS))
    constraint = str(params.get("constraint", SHARED["constraint"]))
    check_choice("constraint", constraint, list(CONSTRAINTS))
    allowed = {**SHARED, **BASE_DEFAULTS[base]}
    for key in params:
        check_choice("key", key, list(allowed), f" (base '{base}')")
    return {**allowed, **params}


def check_choice(what: str, value: str, valid: list[str], where: str = "") -> None:
    """Raise a ConfigError naming the bad value and the nearest valid one."""
    if value in valid:
        return
    hint = dash_hint(value, valid)
    raise ConfigError(
        f"fair_reductions: unknown {what} '{value}'{where}{hint} Valid: {', '.join(valid)}."
    )


def base_estimator(params: Params, categorical: list[int], seed: int) -> Any:
    """The unfitted base learner that ExponentiatedGradient clones and refits."""
    if params["base"] == "linear":
        return LogisticRegression(C=float(params["C"]), max_iter=1000, random_state=seed)
    model = lgb.LGBMClassifier(
        n_estimators=int(params["n_estimators"]),
        learning_rate=float(params["learning_rate"]),
        num_leaves=int(params["num_leaves"]),
        min_child_samples=int(params["min_child_samples"]),
        random_state=seed,
        **FIXED,
    )
    if categorical:
        # a constructor param under the alias ``categorical_column``, because
        # fairlearn calls fit(X, y, sample_weight=...) and passes nothing else
        model.set_params(categorical_column=categorical)
    return model


@register_classical
class FairReductionsModel(ClassicalModel):
    """ExponentiatedGradient on table features, binary targets only.

    Params (defaults in ``SHARED`` and ``BASE_DEFAULTS``): ``base``, ``constraint``,
    ``difference_bound``, ``eps`` (EG's L1 bound on the multipliers), ``max_iter``,
    and the base learner's own. Category columns go to LightGBM as categorical
    features; the linear base sees them one-hot.

    After ``fit`` (not after loading) ``mitigator`` holds fairlearn's fitted
    object, for comparison with its own ``_pmf_predict``.
    """

    family = "fair_reductions"
    READS = frozenset(TABLE_TYPES)  # either base; a table's free-text columns are left out

    # no attribution: a mixture of hard classifiers has no exact contributions

    @classmethod
    def candidates(cls, task: Task) -> Proposal:
        """Under a binary table task's fairness limit: a linear and a LightGBM base,
        bound to half the limit (it holds on training rows; validation and test
        gaps come out larger)."""
        limit = task.fairness
        if limit is None:
            return [], []
        constraint = limit.metric.removesuffix("_difference")
        shared = {"constraint": constraint, "difference_bound": limit.max / 2}
        out = [
            Candidate("linear_eg", cls.family, {"base": "linear", "C": 1.0, **shared}),
            Candidate("lightgbm_eg", cls.family,
                      {"base": "lightgbm", "num_leaves": 15, "n_estimators": 100, **shared}),
        ]  # fmt: skip
        why = (f"Fairness limit on {limit.metric} of '{limit.attribute}': mitigated candidates "
               f"enter: linear_eg, lightgbm_eg (ExponentiatedGradient, {constraint} within "
               f"{limit.max / 2:g} on training rows); every candidate may still get per-group "
               "thresholds.")  # fmt: skip
        return out, [why]

    def fit(
        self, inputs: Inputs, target: torch.Tensor, seed: int, sensitive: np.ndarray | None = None
    ) -> None:
        """Fit the mixture under the fairness constraint.

        Args:
            inputs: encoded table features, (N,) each.
            target: (N,) class ids, 1 = positive.
            seed: seed of the base learner.
            sensitive: (N,) the sensitive attribute's labels, one per row.

        Raises:
            ConfigError: no sensitive labels, a target that is not binary, a
                text or image feature, or bad params.
        """
        params = self.checked()
        if sensitive is None:
            raise ConfigError(
                "the 'fair_reductions' model family needs the sensitive attribute's labels "
                "at training time; none were given."
            )
        if len(sensitive) != len(target):
            raise ConfigError(
                f"fair_reductions: {len(sensitive)} sensitive labels for {len(target)} rows."
            )
        if params["base"] == "linear":
            self.idf = fit_idf(inputs, self.metas)
        x, categorical = self.design(inputs)
        constraint = CONSTRAINTS[params["constraint"]](
            difference_bound=float(params["difference_bound"])
        )
        self.mitigator = ExponentiatedGradient(
            base_estimator(params, categorical, seed), constraint,
            eps=float(params["eps"]), max_iter=int(params["max_iter"]),
        )  # fmt: skip
        y = class_ids(target, self.kind)
        # one BLAS thread, like the single-threaded LightGBM: the dense
        # logistic regressions ran 8x slower with two threads on two busy cores
        with threadpool_limits(limits=1):
            self.mitigator.fit(x, y, sensitive_features=np.asarray(sensitive).astype(str))
        self.keep_members(self.mitigator, x.shape[1])

    @property
    def base(self) -> str:
        """``linear`` or ``lightgbm``."""
        return str(resolved_params(self.params)["base"])

    def checked(self) -> Params:
        """Resolved params, after checking the target kind and the features."""
        if self.kind != "binary":
            raise ConfigError(
                f"the 'fair_reductions' model family is for binary classification; "
                f"this target is {self.kind}."
            )
        for name, meta in self.metas.items():
            if meta.type not in TABLE_TYPES:
                raise ConfigError(
                    f"the 'fair_reductions' model family takes table features only "
                    f"({', '.join(TABLE_TYPES)}); input feature '{name}' is {meta.type}."
                )
        return resolved_params(self.params)

    def design(self, inputs: Inputs) -> tuple[np.ndarray, list[int]]:
        """The dense (N, D) matrix the base learner sees, and its category columns."""
        if self.base == "linear":
            # fairlearn needs dense data; a table's one-hot design is narrow
            return sparse_design(inputs, self.metas, self.idf).toarray(), []
        return dense_design(inputs, self.metas)

    def keep_members(self, mitigator: ExponentiatedGradient, width: int) -> None:
        """Take the members with nonzero weight out of the fitted mixture."""
        index = [j for j in mitigator.weights_.index if mitigator.weights_[j] > 0]
        self.weights = np.asarray([mitigator.weights_[j] for j in index], dtype=np.float64)
        fitted = [mitigator.predictors_[j] for j in index]
        if self.base == "linear":
            self.coef, self.intercept = stack_linear(fitted, width)
        else:  # a constant classifier is kept as its 0/1
            self.members: list[Member] = [
                int(h.constant) if isinstance(h, DummyClassifier) else h.booster_ for h in fitted
            ]

    def predict_raw(self, inputs: Inputs) -> np.ndarray:
        """(N, 2): p(negative), p(positive) = Σ_j w_j · h_j(x)."""
        x, _ = self.design(inputs)
        hard = self.member_votes(x)  # (N, J) of 0/1
        p = hard @ self.weights
        return np.stack([1.0 - p, p], axis=1)

    def member_votes(self, x: np.ndarray) -> np.ndarray:
        """(N, J) hard 0/1 decisions of each member, as its own predict gives them."""
        if self.base == "linear":
            scores = x @ self.coef.T + self.intercept  # (N, J)
            return (scores > 0).astype(np.float64)  # LogisticRegression.predict
        votes = [lightgbm_votes(member, x) for member in self.members]
        return np.stack(votes, axis=1).astype(np.float64)

    def save(self, folder: Path) -> None:
        if self.base == "linear":
            save_linear(folder / "reductions.safetensors", self.idf,
                        coef=self.coef, intercept=self.intercept, weights=self.weights)  # fmt: skip
            return
        described: list[dict[str, float | int | str]] = []
        for j, (member, weight) in enumerate(zip(self.members, self.weights, strict=True)):
            if isinstance(member, int):
                described.append({"weight": float(weight), "constant": member})
                continue
            atomic_write_text(folder / f"reductions_{j}.txt", member.model_to_string())
            described.append({"weight": float(weight), "trees": f"reductions_{j}.txt"})
        atomic_write_json(folder / "reductions.json", {"members": described})

    def load_state(self, folder: Path) -> None:
        if self.base == "linear":
            arrays, self.idf = load_linear(folder / "reductions.safetensors")
            self.coef, self.intercept = arrays["coef"], arrays["intercept"]
            self.weights = arrays["weights"]
            return
        described = read_json(folder / "reductions.json")["members"]
        self.weights = np.asarray([m["weight"] for m in described], dtype=np.float64)
        self.members = [
            int(m["constant"]) if "constant" in m
            else read_booster(folder / f"reductions_{j}.txt")
            for j, m in enumerate(described)
        ]  # fmt: skip

    def parameters(self) -> int:
        """Mixture weights plus coefficients and intercepts, or tree nodes."""
        if self.base == "linear":
            return int(self.weights.size + self.coef.size + self.intercept.size)
        nodes = sum(tree_nodes(m) for m in self.members if not isinstance(m, int))
        return int(self.weights.size + nodes)


def stack_linear(predictors: list[Any], width: int) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients (J, D) and intercepts (J,) of fitted logistic regressions; a
    constant member c becomes zero coefficients and intercept +1 (c = 1) or -1."""
    coef = np.zeros((len(predictors), width), dtype=np.float64)
    intercept = np.zeros(len(predictors), dtype=np.float64)
    for j, predictor in enumerate(predictors):
        if isinstance(predictor, DummyClassifier):
            intercept[j] = 1.0 if int(predictor.constant) == 1 else -1.0
        else:
            coef[j] = predictor.coef_.reshape(-1)
            intercept[j] = float(predictor.intercept_[0])
    return coef, intercept


def lightgbm_votes(member: Member, x: np.ndarray) -> np.ndarray:
    """(N,) 0/1 decisions of one member, as LGBMClassifier.predict makes them
    (argmax over [1 - p, p], so p = 0.5 is negative)."""
    if isinstance(member, int):
        return np.full(len(x), member, dtype=np.int64)
    p = np.asarray(member.predict(x))
    return (p > 1.0 - p).astype(np.int64)
