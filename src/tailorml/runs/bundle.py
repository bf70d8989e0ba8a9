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

from pydantic import ValidationError
from safetensors import SafetensorError

from tailorml import __version__
from tailorml.config import ModelConfig
from tailorml.errors import TailorError
from tailorml.evaluate.decision import Decision
from tailorml.features import FeatureSet
from tailorml.io import atomic_write_json, read_json, replace_dir, staging_dir
from tailorml.models.family import FAMILIES, Params, WeightsError, family_named
from tailorml.records.audit import DecisionRule
from tailorml.train import deep  # noqa: F401  (registers the deep family)

FORMAT_VERSION = 1
Manifest = dict[str, Any]

# MIGRATIONS[v] turns a version-v model.json into a version v + 1 one. A change
# to the format bumps FORMAT_VERSION and registers the step from the old version.
MIGRATIONS: dict[int, Callable[[Manifest], Manifest]] = {}


@dataclass
class Bundle:
    """A trained model with everything needed to use it on raw rows.

    Attributes:
        model: what the family built (``deep``: a TailorModel network).
        params: the family's hyperparameters, and what training spent.
        decision: thresholds for a binary classifier, if chosen.
    """

    config: ModelConfig
    features: FeatureSet
    model: Any
    family: str = "deep"
    params: Params = field(default_factory=dict)
    decision: Decision | None = None


def save_bundle(bundle: Bundle, folder: Path) -> None:
    """Write the bundle to a staging folder, then swap it in atomically."""
    staging = staging_dir(folder)
    family_named(bundle.family).save(bundle.model, staging)
    manifest: Manifest = {
        "format_version": FORMAT_VERSION,
        "tailorml_version": __version__,
        "family": bundle.family,
        "params": bundle.params,
        "config": bundle.config.model_dump(mode="json"),
        "features": bundle.features.to_dict(),
        "decision": bundle.decision.to_dict().model_dump(mode="json") if bundle.decision else None,
    }
    atomic_write_json(staging / "model.json", manifest)
    replace_dir(staging, folder)


def load_bundle(folder: Path) -> Bundle:
    """Rebuild the model from a bundle folder.

    Raises:
        TailorError: the folder is not a bundle, was written by a newer
            tailorml than this one, or is corrupt: a file truncated or
            overwritten, or a ``model.json`` edited so that it no longer
            matches the weights (the message names the file).
    """
    manifest = read_manifest(folder)
    try:
        config = ModelConfig.model_validate(manifest["config"])
        features = FeatureSet.from_dict(manifest["features"])
        family = str(manifest.get("family", "deep"))
        params = dict(manifest.get("params") or {})
        rule = manifest.get("decision")
        decision = Decision.from_dict(DecisionRule.model_validate(rule)) if rule else None
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise corrupt(folder, "model.json", f"does not describe a model ({problem(err)})") from None
    try:
        model = load_model(folder, family, params, config, features)
    except FileNotFoundError as err:
        missing = Path(err.filename).name if err.filename else str(err)
        raise TailorError(
            f"the bundle in '{folder}' is incomplete: its {family} model needs '{missing}', "
            "which is missing. Copy the whole bundle folder, or train the model again."
        ) from None
    return Bundle(config, features, model, family, params, decision)


def read_manifest(folder: Path) -> Manifest:
    """``model.json`` of a bundle folder, brought up to the current format.

    Raises:
        TailorError: no ``model.json``, or one that is not a JSON object.
    """
    path = folder / "model.json"
    if not path.is_file():
        raise TailorError(f"'{folder}' is not a tailorml model bundle (no model.json in it).")
    try:
        manifest = read_json(path)
    except ValueError as err:  # JSONDecodeError, UnicodeDecodeError
        raise corrupt(folder, "model.json", f"is not valid JSON ({err})") from None
    if not isinstance(manifest, dict):
        kind = type(manifest).__name__
        raise corrupt(folder, "model.json", f"holds a JSON {kind}, not an object")
    return migrate(manifest, folder)


def corrupt(folder: Path, file: str, what: str) -> TailorError:
    """The error for a bundle file that was truncated, overwritten or edited."""
    return TailorError(
        f"the bundle in '{folder}' is corrupt or was edited: {file} {what}. Copy the bundle "
        "folder again from where it was trained, or train the model again."
    )


def problem(err: Exception) -> str:
    """A short account of why a manifest entry could not be read."""
    if isinstance(err, ValidationError):
        first = err.errors()[0]
        return f"{'.'.join(map(str, first['loc'])) or 'config'}: {first['msg']}"
    if isinstance(err, KeyError):
        return f"{err.args[0]!r} is missing or unknown"
    return f"{type(err).__name__}: {err}"


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
    folder: Path, family: str, params: Params, config: ModelConfig, features: FeatureSet
) -> Any:
    """The model the manifest describes, built by its family, with its weights.

    Raises:
        FileNotFoundError: a weights file is missing.
        TailorError: the family is unknown, a weights file cannot be read, or
            it does not fit the model that ``model.json`` describes.
    """
    if family not in FAMILIES:
        raise TailorError(f"the bundle in '{folder}' has an unknown model family '{family}'.")
    maker = FAMILIES[family]
    try:
        model = maker.build(config, features, params, pretrained=False)
    except (KeyError, TypeError, ValueError) as err:
        raise corrupt(
            folder, "model.json", f"describes no {family} model ({problem(err)})"
        ) from None
    try:
        maker.load(model, folder)
    except WeightsError as err:
        raise corrupt(folder, err.file, err.what) from None
    except (SafetensorError, KeyError, ValueError) as err:
        kept = (".safetensors", ".txt", ".json")  # the files beside model.json holding the model
        names = sorted(p.name for p in folder.iterdir() if p.suffix in kept and p.name not in
                       ("model.json", "onnx.json") and not p.name.startswith("."))  # fmt: skip
        files = f"the {family} model's files ({', '.join(names)})"
        raise corrupt(folder, files, f"cannot be read ({err})") from None
    return model
