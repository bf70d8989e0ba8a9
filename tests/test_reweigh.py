"""Kamiran–Calders reweighing: the weights, the weighted loss, the config rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from tailorml.config import TrainingConfig
from tailorml.errors import DataError
from tailorml.features import Encoded
from tailorml.train import Trainer
from tailorml.train.loop import weighted
from tailorml.train.losses import make_loss
from tailorml.train.weights import joint_groups, reweigh


def test_weighted_rows_make_the_label_independent_of_the_group() -> None:
    rng = np.random.default_rng(0)
    groups = rng.choice(["a", "b", "c"], 5000, p=[0.6, 0.3, 0.1])
    base = {"a": 0.5, "b": 0.15, "c": 0.8}
    labels = (rng.random(5000) < np.vectorize(base.get)(groups)).astype(int)
    weights, cells = reweigh(groups, labels)
    assert weights.mean() == pytest.approx(1.0)
    overall = labels.mean()
    rates = [labels[groups == group].mean() for group in ("a", "b", "c")]
    assert max(rates) - min(rates) > 0.5  # biased before
    for group in ("a", "b", "c"):
        rows = groups == group
        weighted_rate = (weights[rows] * labels[rows]).sum() / weights[rows].sum()
        assert weighted_rate == pytest.approx(overall)  # independent after
    assert sum(c["rows"] for c in cells) == 5000
    positive_b = next(c for c in cells if c["group"] == "b" and c["label"] == 1)
    assert positive_b["weight"] > 1  # the rare combination counts more


def test_joint_groups_cross_the_columns_and_reject_bad_ones() -> None:
    rows = pd.DataFrame({"sex": ["F", "M", "F"], "race": ["x", "x", "y"], "one": ["k"] * 3})
    assert list(joint_groups(rows, ["sex", "race"])) == [
        "sex=F, race=x", "sex=M, race=x", "sex=F, race=y",
    ]  # fmt: skip
    with pytest.raises(DataError, match="'sx' does not exist.*did you mean 'sex'"):
        joint_groups(rows, ["sx"])
    with pytest.raises(DataError, match="single group"):
        joint_groups(rows, ["one"])


def test_weighted_loss_is_the_mean_of_weighted_row_losses() -> None:
    out, y = torch.randn(6, 3), torch.tensor([0, 1, 2, 0, 1, 2])
    weights = torch.tensor([1.0, 2.0, 0.5, 3.0, 1.0, 0.25, 9.0])
    index = torch.tensor([0, 1, 2, 3, 4, 5])
    rows = torch.nn.functional.cross_entropy(out, y, reduction="none")
    loss = weighted(make_loss("category", "auto", "none"), weights, index)(out, y)
    assert float(loss) == pytest.approx(float((rows * weights[:6]).mean()))


def small_fit(weights: torch.Tensor | None) -> list[torch.Tensor]:
    torch.manual_seed(0)
    x = torch.randn(200, 4)
    data = Encoded({"x": x}, (x[:, 0] > 0).long(), weights)
    net = torch.nn.Sequential(torch.nn.Linear(4, 2))
    model = torch.nn.Module()
    model.net = net
    model.forward = lambda inputs: net(inputs["x"])  # type: ignore[method-assign]
    Trainer(model, "category", TrainingConfig(epochs=2, batch_size=32), quiet=True).fit(data, None)
    return [p.detach().clone() for p in net.parameters()]


def test_unit_weights_train_exactly_like_no_weights_and_others_do_not() -> None:
    plain = small_fit(None)
    ones = small_fit(torch.ones(200))
    skewed = small_fit(torch.linspace(0.1, 3.0, 200))
    for a, b in zip(plain, ones, strict=True):
        assert torch.allclose(a, b, atol=1e-6)
    assert not all(torch.allclose(a, b, atol=1e-4) for a, b in zip(plain, skewed, strict=True))
