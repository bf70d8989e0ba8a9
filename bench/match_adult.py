"""tailorml match vs FLAML vs LightGBM defaults on builtin:adult, same budget.

Each contender gets the same wall-clock budget on the official Adult train
file and is scored on the official test file: accuracy, ROC AUC, demographic
parity difference on sex (DPD), and seconds — once without a fairness limit
and once with DPD(sex) <= 0.05:

- tailorml: ``scenarios/credit_income_open.yaml`` and ``credit_income.yaml``
  with the budget set to --budget;
- FLAML (``pip install "flaml[automl]"``; not a dependency), accuracy metric;
  with the limit, a custom metric logging DPD on its validation data and
  ``metric_constraints=[("dpd", "<=", 0.05)]`` (FLAML's own mechanism);
- LightGBM with default settings; with the limit, fairlearn's
  ThresholdOptimizer (demographic parity) on top of it.

Sensitive columns are not model inputs for anyone. The last line printed is
one JSON object.

    python bench/match_adult.py [--budget 120]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from fairlearn.metrics import demographic_parity_difference
from sklearn.metrics import roc_auc_score

import tailorml
from tailorml.config import Scenario, load_config
from tailorml.data import load_builtin
from tailorml.pipelines import match

ROOT = Path(__file__).resolve().parents[1]
SENSITIVE = ["sex", "race"]
LIMIT = 0.05


def frames() -> tuple[pd.DataFrame, pd.Series, pd.DataFrame, pd.Series, pd.Series, pd.Series]:
    data = load_builtin("adult").frames
    train, test = data["train"], data["test"]
    columns = [c for c in train.columns if c not in ["income", *SENSITIVE]]
    x, xt = train[columns].copy(), test[columns].copy()
    for column in columns:
        if not pd.api.types.is_numeric_dtype(x[column]):
            categories = sorted(x[column].dropna().unique())
            x[column] = pd.Categorical(x[column], categories=categories)
            xt[column] = pd.Categorical(xt[column], categories=categories)
    return x, train["income"] == ">50K", xt, test["income"] == ">50K", train["sex"], test["sex"]


def scores(y: pd.Series, pred: np.ndarray, proba: np.ndarray | None, sex: pd.Series,
           seconds: float) -> dict[str, Any]:  # fmt: skip
    return {
        "test_accuracy": float(np.mean(np.asarray(pred) == y.to_numpy())),
        "test_auc": float(roc_auc_score(y, proba)) if proba is not None else None,
        "dpd_sex": float(demographic_parity_difference(y, pred, sensitive_features=sex)),
        "seconds": seconds,
    }


def run_tailorml(name: str, budget: float) -> dict[str, Any]:
    scenario = load_config(ROOT / "scenarios" / f"{name}.yaml", Scenario)
    scenario = scenario.model_copy(
        update={"budget": scenario.budget.model_copy(update={"seconds": budget})}
    )
    test = load_builtin("adult").frames["test"]
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        result = match(scenario, folder, quiet=True)
        seconds = time.perf_counter() - start
        run = tailorml.load(Path(folder) / "recommended")
        preds = run.predict(test)
    y = test["income"] == ">50K"
    decided = (preds["prediction"] == ">50K").to_numpy()
    out = scores(y, decided, preds["probability_>50K"].to_numpy(), test["sex"], seconds)
    return out | {"model": result["recommended"]}


def run_lightgbm(fair: bool) -> dict[str, Any]:
    import lightgbm as lgb

    x, y, xt, yt, sex, sex_t = frames()
    start = time.perf_counter()
    model = lgb.LGBMClassifier(verbose=-1, random_state=0).fit(x, y)
    if not fair:
        return scores(
            yt, model.predict(xt), model.predict_proba(xt)[:, 1], sex_t, time.perf_counter() - start
        )
    from fairlearn.postprocessing import ThresholdOptimizer

    post = ThresholdOptimizer(estimator=model, constraints="demographic_parity", prefit=True,
                              predict_method="predict_proba")  # fmt: skip
    post.fit(x, y, sensitive_features=sex)
    pred = post.predict(xt, sensitive_features=sex_t, random_state=0)
    return scores(yt, pred, None, sex_t, time.perf_counter() - start)


def run_flaml(budget: float, fair: bool) -> dict[str, Any] | None:
    try:
        from flaml import AutoML  # type: ignore[import-not-found]
    except ImportError:
        return None
    x, y, xt, yt, sex, sex_t = frames()
    automl = AutoML()
    settings: dict[str, Any] = {
        "time_budget": budget, "task": "classification", "metric": "accuracy",
        "seed": 0, "verbose": 0, "n_jobs": 2,
    }  # fmt: skip
    if fair:
        settings["metric"] = dpd_metric(sex)
        settings["metric_constraints"] = [("dpd", "<=", LIMIT)]
    start = time.perf_counter()
    automl.fit(x, y.astype(int), **settings)
    seconds = time.perf_counter() - start
    return scores(
        yt, automl.predict(xt).astype(bool), automl.predict_proba(xt)[:, 1], sex_t, seconds
    ) | {"model": automl.best_estimator}


def dpd_metric(sex: pd.Series) -> Any:
    """FLAML custom metric: minimise the error, log DPD(sex) on validation."""

    def metric(x_val: pd.DataFrame, y_val: Any, estimator: Any, *args: Any, **kwargs: Any) -> Any:
        pred = estimator.predict(x_val)
        error = float(np.mean(pred != np.asarray(y_val)))
        dpd = float(
            demographic_parity_difference(y_val, pred, sensitive_features=sex.loc[x_val.index])
        )
        return error, {"dpd": dpd, "val_error": error}

    return metric


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=120)
    args = parser.parse_args()
    result = {
        "budget_s": args.budget,
        "open": {
            "tailorml": run_tailorml("credit_income_open", args.budget),
            "flaml": run_flaml(args.budget, fair=False),
            "lightgbm": run_lightgbm(fair=False),
        },
        "dpd_limit_0.05": {
            "tailorml": run_tailorml("credit_income", args.budget),
            "flaml": run_flaml(args.budget, fair=True),
            "lightgbm_threshold_optimizer": run_lightgbm(fair=True),
        },
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
