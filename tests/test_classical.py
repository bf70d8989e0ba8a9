"""Classical families: a bundle reloads its family's own class and predicts
exactly what was saved. The rest of their conformance (outputs, determinism,
no pickle, a size, candidates, explanations) is the kit's, in test_conformance."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tailorml.models.classical import CLASSICAL
from tailorml.runs.bundle import load_bundle, save_bundle
from tailorml.testing import adult, fitted_bundle

# fairlearn 0.15 sets Series values with ``.at`` on new keys, which pandas 3 deprecates
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:fairlearn")


@pytest.mark.parametrize("family", sorted(CLASSICAL))
def test_a_classical_bundle_reloads_its_own_class_exactly(family: str, tmp_path: Path) -> None:
    data = adult()
    bundle = fitted_bundle(family, {}, data)
    inputs = data.features.encode(data.held_out, "held_out", with_target=False).inputs
    proba = bundle.model.predict_raw(inputs)
    assert proba.shape == (500, 2)
    assert np.all((proba >= 0) & (proba <= 1))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    save_bundle(bundle, tmp_path / "model")
    loaded = load_bundle(tmp_path / "model").model
    assert isinstance(loaded, type(bundle.model))
    np.testing.assert_array_equal(loaded.predict_raw(inputs), proba)
