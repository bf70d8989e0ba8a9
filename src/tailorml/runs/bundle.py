"""The saved model: weights + JSON (config, preprocessing, decision rule).

Layout of a bundle folder (``RUN/model/``)::

    model.json          format_version, family, params, resolved config,
                        preprocessing state, decision thresholds
    model.safetensors   deep models: the network's weights
    linear.safetensors  linear models: coefficients (and IDF weights)
    lightgbm.txt        gradient-boosted trees in LightGBM's own text format
    reductions.*        fair_reductions mixtures: stacked linear members in
                        safetensors, or one LightGBM text file per member,
                        with the mixture weights

No pickle anywhere: loading a bundle never executes code from the file.

``format_version`` counts changes to this layout. A bundle written by an older
tailorml is brought up to date on load by ``MIGRATIONS``; the bundles in
``tests/fixtures/bundle_v*`` must keep loading and predicting the same.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tailorml import __version__
from tailorml.config import ModelConfig
from tailorml.errors import TailorError
from tailorml.evaluate.decision import Decision
from tailorml.features import FeatureSet
from tailorml.io import atomic_write_json, load_tensors, read_json, replace_dir, save_tensors
from tailorml.io import staging_dir as make_staging
from tailorml.models import TailorModel
from tailorml.models.classical import CLASSICAL, ClassicalModel

FORMAT_VERSION = 1
Model = TailorModel | ClassicalModel
Manifest = dict[str, Any]

# MIGRATIONS[v] turns a version-v model.json into a version v + 1 one. A change
# to the format bumps FORMAT_VERSION and registers the step from the old version.
MIGRATIONS: dict[int, Callable[[Manifest], Manifest]] = {}


@dataclass
class Bundle:
    """A trained model with everything needed to use it on raw rows.

    Attributes:
        family: ``deep`` for a TailorModel, else a classical family name.
        params: the family's hyperparameters (classical models).
        decision: thresholds for a binary classifier, if chosen.
    """

    config: ModelConfig
    features: FeatureSet
    model: Model
    family: str = "deep"
    params: dict[str, Any] = field(default_factory=dict)
    decision: Decision | None = None


def save_bundle(bundle: Bundle, folder: Path) -> None:
    """Write the bundle to a staging folder, then swap it in atomically."""
    staging = make_staging(folder)
    if isinstance(bundle.model, TailorModel):
        save_tensors(staging / "model.safetensors", bundle.model.state_dict())
    else:
        bundle.model.save(staging)
    manifest: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "tailorml_version": __version__,
        "family": bundle.family,
        "params": bundle.params,
        "config": bundle.config.model_dump(mode="json"),
        "features": bundle.features.to_dict(),
        "decision": bundle.decision.to_dict() if bundle.decision else None,
    }
    atomic_write_json(staging / "model.json", manifest)
    replace_dir(staging, folder)


def load_bundle(folder: Path) -> Bundle:
    """Rebuild the model from a bundle folder.

    Raises:
        TailorError: the folder is not a bundle, or was written by a newer
            tailorml than this one.
    """
    manifest_path = folder / "model.json"
    if not manifest_path.is_file():
        raise TailorError(f"'{folder}' is not a tailorml model bundle (no model.json in it).")
    manifest = migrate(read_json(manifest_path), folder)
    config = ModelConfig.model_validate(manifest["config"])
    features = FeatureSet.from_dict(manifest["features"])
    family = str(manifest.get("family", "deep"))
    params = dict(manifest.get("params") or {})
    decision = Decision.from_dict(manifest["decision"]) if manifest.get("decision") else None
    try:
        model = load_model(folder, family, params, config, features)
    except FileNotFoundError as err:
        missing = Path(err.filename).name if err.filename else str(err)
        raise TailorError(
            f"the bundle in '{folder}' is incomplete: its {family} model needs '{missing}', "
            "which is missing. Copy the whole bundle folder, or train the model again."
        ) from None
    return Bundle(config, features, model, family, params, decision)


def migrate(manifest: Manifest, folder: Path) -> Manifest:
    """Bring a manifest from its ``format_version`` up to ``FORMAT_VERSION``.

    A manifest without a version is version 0 (before versioning).

    Raises:
        TailorError: the bundle is newer than this tailorml, or no migration
            exists from its version.
    """
    version = manifest.get("format_version", 0)
    if not isinstance(version, int) or version < 0:
        raise TailorError(f"the bundle in '{folder}' has an invalid format_version {version!r}.")
    if version > FORMAT_VERSION:
        raise TailorError(
            f"the bundle in '{folder}' has format_version {version}; this tailorml reads up "
            f"to {FORMAT_VERSION}. Upgrade tailorml to load it."
        )
    for step in range(version, FORMAT_VERSION):
        if step not in MIGRATIONS:
            raise TailorError(
                f"the bundle in '{folder}' has format_version {step}, which this tailorml "
                f"cannot convert to {FORMAT_VERSION}; train the model again."
            )
        manifest = {**MIGRATIONS[step](manifest), "format_version": step + 1}
    return manifest


def load_model(
    folder: Path, family: str, params: dict[str, Any], config: ModelConfig, features: FeatureSet
) -> Model:
    target = features.target
    if family == "deep":
        model = TailorModel(config, features.metas(), target.n_outputs, pretrained=False)
        model.load_state_dict(load_tensors(folder / "model.safetensors"))
        model.eval()
        return model
    if family not in CLASSICAL:
        raise TailorError(f"the bundle in '{folder}' has an unknown model family '{family}'.")
    classical = CLASSICAL[family](params, features.metas(), target.kind, len(target.labels) or 1)
    classical.load_state(folder)
    return classical
