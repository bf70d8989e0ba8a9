"""Choosing a decision threshold for value under fairness limits (evaluate/thresholds.py)."""

from __future__ import annotations

import numpy as np
import pytest
from fairlearn.metrics import demographic_parity_difference, equalized_odds_difference

from tailorml.evaluate.thresholds import (
    MIN_GROUP_ROWS,
    Decision,
    FairnessLimit,
    QualityFloor,
    ValueMatrix,
    choose_decision,
    demographic_parity_gap,
    equalized_odds_gap,
)

DPD = "demographic_parity_difference"
EOD = "equalized_odds_difference"
SYMMETRIC = ValueMatrix(
    true_positive=1.0, false_positive=-1.0, true_negative=1.0, false_negative=-1.0
)
LENDING = ValueMatrix(true_positive=1.0, false_positive=-1.0, true_negative=0.0, false_negative=0.0)


def calibrated(
    n: int, seed: int, base_rates: tuple[float, ...] = (0.25, 0.55)
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels, calibrated p(positive) and group labels; groups differ in base rate."""
    rng = np.random.default_rng(seed)
    labels = np.array([f"g{i}" for i in range(len(base_rates))])
    index = rng.integers(0, len(base_rates), n)
    base = np.asarray(base_rates)[index]
    proba = 1 / (1 + np.exp(-(np.log(base / (1 - base)) + rng.normal(0, 1.5, n))))
    y = (rng.random(n) < proba).astype(np.int64)
    return y, proba, labels[index]


def test_symmetric_values_pick_about_one_half() -> None:
    y, proba, _ = calibrated(20_000, seed=0)
    result = choose_decision(y, proba, SYMMETRIC, {}, [], group_thresholds=False)
    assert abs(result.decision.threshold - 0.5) < 0.05
    assert result.feasible and result.binding is None and result.gaps == {}


def test_costly_false_positives_raise_the_threshold_and_the_value() -> None:
    y, proba, _ = calibrated(20_000, seed=1)
    costly = ValueMatrix(
        true_positive=0.0, false_positive=-5.0, true_negative=0.0, false_negative=-1.0
    )
    result = choose_decision(y, proba, costly, {}, [], group_thresholds=False)
    assert result.decision.threshold > 0.7  # break-even is p = 5/6 on calibrated scores
    assert result.value_per_row > result.baseline_value_per_row
    at_half = costly.per_row(y, Decision(0.5).apply(proba, None)).mean()
    assert result.baseline_value_per_row == pytest.approx(at_half)


def test_value_per_row_is_money_per_outcome() -> None:
    value = ValueMatrix(
        true_positive=3.0, false_positive=-2.0, true_negative=1.0, false_negative=-4.0
    )
    money = value.per_row(np.array([1, 0, 0, 1]), np.array([1, 1, 0, 0]))
    np.testing.assert_array_equal(money, [3.0, -2.0, 1.0, -4.0])


@pytest.mark.parametrize(
    ("metric", "measure"), [(DPD, demographic_parity_difference), (EOD, equalized_odds_difference)]
)
def test_group_thresholds_meet_the_limit_on_fresh_data(metric, measure) -> None:  # type: ignore[no-untyped-def]
    y, proba, sex = calibrated(20_000, seed=2)
    free = choose_decision(y, proba, LENDING, {}, [], group_thresholds=False).decision
    assert measure(y, free.apply(proba, None), sensitive_features=sex) > 0.15

    limit = [FairnessLimit("sex", metric, 0.05)]
    grouped = choose_decision(y, proba, LENDING, {"sex": sex}, limit, group_thresholds=True)
    single = choose_decision(y, proba, LENDING, {"sex": sex}, limit, group_thresholds=False)
    key = f"sex:{metric}"
    assert grouped.feasible and grouped.binding == key
    assert grouped.decision.group_attribute == "sex"
    assert set(grouped.decision.group_thresholds) == {"g0", "g1"}
    assert grouped.gaps[key] <= grouped.effective_limits[key] < 0.05
    assert measure(y, grouped.decision.apply(proba, sex), sensitive_features=sex) <= 0.05
    assert single.feasible and not single.decision.group_thresholds
    assert grouped.value_per_row > single.value_per_row

    y_new, proba_new, sex_new = calibrated(100_000, seed=3)
    fresh = measure(y_new, grouped.decision.apply(proba_new, sex_new), sensitive_features=sex_new)
    assert fresh <= 0.05


def test_limits_on_other_attributes_are_checked_exactly() -> None:
    y, proba, sex = calibrated(20_000, seed=4)
    age = np.where(np.random.default_rng(5).random(len(y)) < proba, "old", "young")
    limits = [FairnessLimit("sex", DPD, 0.05), FairnessLimit("age", DPD, 0.3)]
    result = choose_decision(y, proba, LENDING, {"sex": sex, "age": age}, limits, True)
    assert result.feasible
    pred = result.decision.apply(proba, sex)
    for lim in limits:
        assert result.gaps[lim.key] <= result.effective_limits[lim.key]
        assert demographic_parity_gap(pred, {"sex": sex, "age": age}[lim.attribute]) <= lim.limit


def test_small_groups_are_ignored_and_keep_the_global_threshold() -> None:
    y, proba, sex = calibrated(10_000, seed=6)
    sex = sex.copy()
    sex[: MIN_GROUP_ROWS - 1] = "rare"
    limit = [FairnessLimit("sex", DPD, 0.05)]
    result = choose_decision(y, proba, LENDING, {"sex": sex}, limit, group_thresholds=True)
    assert result.feasible
    assert "rare" not in result.decision.group_thresholds
    pred = result.decision.apply(proba, sex)
    assert result.gaps["sex:" + DPD] == pytest.approx(
        demographic_parity_gap(pred, sex, min_rows=MIN_GROUP_ROWS)
    )


@pytest.mark.parametrize("group_thresholds", [False, True])
def test_a_limit_that_cannot_be_certified_is_reported(group_thresholds: bool) -> None:
    y, proba, sex = calibrated(10_000, seed=7)
    zero = [FairnessLimit("sex", EOD, 0.0)]
    result = choose_decision(y, proba, LENDING, {"sex": sex}, zero, group_thresholds)
    assert not result.certified and result.binding == "sex:" + EOD
    assert result.effective_limits["sex:" + EOD] < 0
    # as measured, only a rule that treats everyone alike has a zero gap
    pred = result.decision.apply(proba, sex)
    assert result.feasible and pred.min() == pred.max()

    tiny = [FairnessLimit("sex", DPD, 0.05)]
    y, proba, sex = calibrated(80, seed=8)
    result = choose_decision(y, proba, LENDING, {"sex": sex}, tiny, group_thresholds)
    assert not result.certified and result.binding == "sex:" + DPD


def test_gaps_equal_fairlearn_on_random_data() -> None:
    rng = np.random.default_rng(9)
    for _ in range(20):
        n = int(rng.integers(50, 400))
        y = rng.integers(0, 2, n)
        pred = rng.integers(0, 2, n)
        groups = rng.choice(np.array(["a", "b", "c", "d"]), n)
        dpd = demographic_parity_difference(y, pred, sensitive_features=groups)
        eod = equalized_odds_difference(y, pred, sensitive_features=groups)
        assert demographic_parity_gap(pred, groups) == pytest.approx(dpd, abs=1e-12)
        assert equalized_odds_gap(y, pred, groups) == pytest.approx(eod, abs=1e-12)


def test_reported_gaps_equal_fairlearn() -> None:
    y, proba, groups = calibrated(5_000, seed=10, base_rates=(0.2, 0.4, 0.6))
    limits = [FairnessLimit("g", DPD, 0.1), FairnessLimit("g", EOD, 0.1)]
    result = choose_decision(y, proba, LENDING, {"g": groups}, limits, group_thresholds=True)
    pred = result.decision.apply(proba, groups)
    assert result.gaps["g:" + DPD] == pytest.approx(
        demographic_parity_difference(y, pred, sensitive_features=groups)
    )
    assert result.gaps["g:" + EOD] == pytest.approx(
        equalized_odds_difference(y, pred, sensitive_features=groups)
    )


def test_same_inputs_same_decision() -> None:
    y, proba, sex = calibrated(5_000, seed=11)
    limit = [FairnessLimit("sex", EOD, 0.08)]
    first = choose_decision(y, proba, LENDING, {"sex": sex}, limit, group_thresholds=True)
    again = choose_decision(y.copy(), proba.copy(), LENDING, {"sex": sex.copy()}, limit, True)
    assert first == again


def test_decision_round_trips_and_needs_groups() -> None:
    decision = Decision(0.4, "sex", {"f": 0.3, "m": 0.6})
    assert Decision.from_dict(decision.to_dict()) == decision
    proba = np.array([0.3, 0.3, 0.6, 0.5])
    np.testing.assert_array_equal(
        decision.apply(proba, np.array(["f", "m", "m", "x"])), [1, 0, 1, 1]
    )
    with pytest.raises(ValueError, match="sex"):
        decision.apply(proba, None)


def test_a_limit_on_a_missing_attribute_is_an_error() -> None:
    y, proba, _ = calibrated(200, seed=12)
    with pytest.raises(ValueError, match="race"):
        choose_decision(y, proba, LENDING, {}, [FairnessLimit("race", DPD, 0.1)], False)


COSTLY_MISSES = ValueMatrix(  # a false negative costs three times a false positive
    true_positive=0.0, false_positive=-1.0, true_negative=0.0, false_negative=-3.0
)


def test_a_quality_floor_holds_while_value_is_maximised() -> None:
    y, proba, _ = calibrated(8_000, seed=20, base_rates=(0.4,))
    free = choose_decision(y, proba, COSTLY_MISSES, {}, [], group_thresholds=False)
    accuracy_free = float((free.decision.apply(proba, None) == y).mean())
    floor = QualityFloor("accuracy", 0.72)  # argmax: 0.744; value alone: 0.685
    assert accuracy_free < floor.minimum  # value alone would break the floor
    joint = choose_decision(y, proba, COSTLY_MISSES, {}, [], False, floors=[floor])
    accuracy = float((joint.decision.apply(proba, None) == y).mean())
    assert joint.certified and joint.feasible
    assert accuracy == pytest.approx(joint.quality["min_accuracy"])
    assert accuracy >= joint.effective_floors["min_accuracy"] > floor.minimum
    assert joint.value_per_row > COSTLY_MISSES.per_row(y, (proba >= 0.5)).mean()
    assert joint.binding == "min_accuracy"


def test_macro_f1_floor_matches_scikit_learn() -> None:
    from sklearn.metrics import f1_score

    y, proba, _ = calibrated(3_000, seed=21)
    floor = QualityFloor("f1_macro", 0.6)
    result = choose_decision(y, proba, COSTLY_MISSES, {}, [], False, floors=[floor])
    pred = result.decision.apply(proba, None)
    assert result.quality["min_f1_macro"] == pytest.approx(f1_score(y, pred, average="macro"))


@pytest.mark.parametrize("seed", range(8))
def test_a_model_feasible_at_argmax_stays_feasible_after_tuning(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    y, proba, sex = calibrated(int(rng.integers(300, 3_000)), seed=100 + seed)
    at_half = (proba >= 0.5).astype(int)
    accuracy = float((at_half == y).mean())
    gap = demographic_parity_gap(at_half, sex)
    floors = [QualityFloor("accuracy", accuracy - float(rng.uniform(0, 0.01)))]
    limits = [FairnessLimit("sex", DPD, gap + float(rng.uniform(0, 0.01)))]
    value = ValueMatrix(*rng.uniform(-5, 1, 4))
    for grouped in (False, True):
        result = choose_decision(y, proba, value, {"sex": sex}, limits, grouped, floors=floors)
        pred = result.decision.apply(proba, sex)
        assert result.feasible
        assert float((pred == y).mean()) >= floors[0].minimum - 1e-12
        assert demographic_parity_gap(pred, sex) <= limits[0].limit + 1e-12


def test_conflicting_constraints_are_named_with_the_shortfall() -> None:
    y, proba, sex = calibrated(6_000, seed=22, base_rates=(0.15, 0.7))
    floors = [QualityFloor("accuracy", 0.75)]  # argmax: 0.776 with a parity gap of 0.61
    limits = [FairnessLimit("sex", DPD, 0.02)]
    result = choose_decision(y, proba, LENDING, {"sex": sex}, limits, False, floors=floors)
    assert not result.feasible and not result.certified
    text = " ".join(result.conflict)
    assert "min_accuracy" in text and "sex:" + DPD in text and "cannot hold together" in text
    # each holds alone: the floor at 0.5, the limit by selecting nobody
    alone = choose_decision(y, proba, LENDING, {"sex": sex}, limits, False)
    assert alone.feasible


def test_small_groups_are_not_judged_and_do_not_block_the_limit() -> None:
    y, proba, race = calibrated(4_000, seed=23, base_rates=(0.3, 0.5))
    race = race.astype(object)
    race[:3], race[3:13] = "tiny", "small"  # 3 and 10 people, as in the real table
    limit = [FairnessLimit("race", DPD, 0.1)]
    result = choose_decision(y, proba, LENDING, {"race": race}, limit, group_thresholds=True)
    assert result.certified and set(result.decision.group_thresholds) == {"g0", "g1"}
    pred = result.decision.apply(proba, race)
    big = np.isin(race, ["g0", "g1"])
    assert result.gaps["race:" + DPD] == pytest.approx(
        demographic_parity_difference(y[big], pred[big], sensitive_features=race[big])
    )


def test_a_limit_with_one_large_group_is_not_judged() -> None:
    y, proba, _ = calibrated(500, seed=24)
    groups = np.where(np.arange(500) < 480, "big", "rare")
    limit = [FairnessLimit("g", DPD, 0.01)]
    result = choose_decision(y, proba, LENDING, {"g": groups}, limit, group_thresholds=True)
    assert result.not_judged == ["g:" + DPD] and result.gaps == {} and result.certified


def test_scoped_limits_judge_the_named_groups_or_against_a_reference() -> None:
    from tailorml.evaluate.groups import GroupScope

    y, proba, g = calibrated(9_000, seed=25, base_rates=(0.2, 0.45, 0.5))
    only = FairnessLimit("g", DPD, 0.05, GroupScope(groups=("g1", "g2")))
    result = choose_decision(y, proba, LENDING, {"g": g}, [only], group_thresholds=False)
    pred = result.decision.apply(proba, g)
    kept = np.isin(g, ["g1", "g2"])
    assert result.gaps[only.key] == pytest.approx(
        demographic_parity_difference(y[kept], pred[kept], sensitive_features=g[kept])
    )
    versus = FairnessLimit("g", DPD, 0.05, GroupScope(reference="g1"))
    result = choose_decision(y, proba, LENDING, {"g": g}, [versus], group_thresholds=True)
    pred = result.decision.apply(proba, g)
    rates = {name: pred[g == name].mean() for name in ("g0", "g1", "g2")}
    worst = max(abs(rates["g0"] - rates["g1"]), abs(rates["g2"] - rates["g1"]))
    assert result.gaps[versus.key] == pytest.approx(worst)
    assert result.certified and worst <= result.effective_limits[versus.key]
