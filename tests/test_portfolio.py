"""The portfolio rule: which candidates enter, and why."""

from __future__ import annotations

from tailorml.config.scenario import FairnessConstraint
from tailorml.features.meta import FeatureMeta
from tailorml.match.portfolio import build_portfolio
from tailorml.models.classical import CLASSICAL

TABLE = {
    "age": FeatureMeta("age", "number", (1,), "float32"),
    "job": FeatureMeta("job", "category", (), "int64", vocab_size=9),
}
TEXT = {"text": FeatureMeta("text", "text", (16,), "int64", vocab_size=100)}
LIMIT = FairnessConstraint(attribute="sex", metric="equalized_odds_difference", max=0.06)


def names(candidates: list) -> list[str]:  # type: ignore[type-arg]
    return [c.name for c in candidates]


def test_a_fairness_limit_brings_mitigated_candidates_under_its_own_constraint() -> None:
    candidates, reasons = build_portfolio(TABLE, 20_000, 120, fairness=[LIMIT], binary=True)
    fair = {c.name: c for c in candidates if c.name in ("linear_eg", "lightgbm_eg")}
    assert set(fair) == {"linear_eg", "lightgbm_eg"}
    for candidate in fair.values():
        assert candidate.family in CLASSICAL
        assert candidate.params["constraint"] == "equalized_odds"
        assert candidate.params["difference_bound"] == 0.03
    reweighed = next(c for c in candidates if c.name == "mlp_reweighed")
    assert reweighed.params["training"]["fairness"] == {"method": "reweigh", "sensitive": ["sex"]}
    assert any("mitigated candidates enter" in r for r in reasons)
    families = [c.family for c in candidates]  # a tight budget reaches the cheap ones first
    assert families.index("deep") > max(i for i, f in enumerate(families) if f != "deep")


def test_no_mitigated_candidates_without_a_limit_for_text_or_for_many_classes() -> None:
    for metas, binary, fairness in ((TABLE, True, []), (TEXT, True, [LIMIT]),
                                    (TABLE, False, [LIMIT])):  # fmt: skip
        candidates, _ = build_portfolio(metas, 20_000, 120, fairness=fairness, binary=binary)
        assert not {"linear_eg", "lightgbm_eg", "mlp_reweighed"} & set(names(candidates))


def test_small_budgets_leave_out_the_reweighed_network() -> None:
    candidates, _ = build_portfolio(TABLE, 20_000, 30, fairness=[LIMIT], binary=True)
    assert {"linear_eg", "lightgbm_eg"} <= set(names(candidates))
    assert "mlp_reweighed" not in names(candidates)


def test_max_epsilon_keeps_only_private_networks_even_with_a_fairness_limit() -> None:
    candidates, _ = build_portfolio(TABLE, 20_000, 120, 4.0, fairness=[LIMIT], binary=True)
    assert candidates and all(c.name.endswith("_dp") for c in candidates)
    assert all("fairness" not in c.params["training"] for c in candidates)
