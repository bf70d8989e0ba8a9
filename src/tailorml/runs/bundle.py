"""The saved model: safetensors weights + JSON (config, preprocessing).

Layout of ``RUN/model/``::

    model.json          format_version, resolved config, preprocessing state
    model.safetensors   the network's weights

No pickle anywhere: loading a bundle never executes code from the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tailorml import __version__
from tailorml.config import ModelConfig
from tailorml.errors import TailorError
from tailorml.features import FeatureSet
from tailorml.io import atomic_write_json, load_tensors, read_json, replace_dir, save_tensors
from tailorml.io import staging_dir as make_staging
from tailorml.models import TailorModel

FORMAT_VERSION = 1


@dataclass
class Bundle:
    """A trained model with everything needed to use it on raw rows."""

    config: ModelConfig
    features: FeatureSet
    model: TailorModel


def save_bundle(bundle: Bundle, folder: Path) -> None:
    """Write the bundle to a staging folder, then swap it in atomically."""
    staging = make_staging(folder)
    save_tensors(staging / "model.safetensors", bundle.model.state_dict())
    manifest: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "tailorml_version": __version__,
        "config": bundle.config.model_dump(mode="json"),
        "features": bundle.features.to_dict(),
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
    manifest = read_json(manifest_path)
    version = int(manifest.get("format_version", 0))
    if version > FORMAT_VERSION:
        raise TailorError(
            f"the bundle in '{folder}' has format_version {version}; this tailorml reads up "
            f"to {FORMAT_VERSION}. Upgrade tailorml to load it."
        )
    config = ModelConfig.model_validate(manifest["config"])
    features = FeatureSet.from_dict(manifest["features"])
    model = TailorModel(config, features.metas(), features.target.n_outputs)
    model.load_state_dict(load_tensors(folder / "model.safetensors"))
    model.eval()
    return Bundle(config, features, model)
