"""Atomic file writes: an interrupted run never leaves a half-written file."""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeAlias

import torch
from pydantic import JsonValue
from safetensors.torch import load_file, save_file

# A JSON object: what saved records, preprocessor states and manifests are made of
# (pydantic's JsonValue is the recursive str | int | float | bool | None | list | dict).
JSONObject: TypeAlias = dict[str, JsonValue]


def as_object(value: JsonValue, what: str) -> JSONObject:
    """``value``, checked to be a JSON object.

    Raises:
        ValueError: naming ``what``, when it is not.
    """
    if not isinstance(value, dict):
        raise ValueError(f"{what} is not a JSON object")
    return value


def as_objects(value: JsonValue, what: str) -> list[JSONObject]:
    """``value``, checked to be a list of JSON objects.

    Raises:
        ValueError: naming ``what``, when it is not.
    """
    if not isinstance(value, list):
        raise ValueError(f"{what} is not a list")
    return [as_object(item, f"{what}[{i}]") for i, item in enumerate(value)]


UMASK = os.umask(0)  # reading the umask means setting it: put it back
os.umask(UMASK)
# what plain open() and mkdir() would give; mkstemp and mkdtemp give 0600 / 0700
FILE_MODE = 0o666 & ~UMASK
DIR_MODE = 0o777 & ~UMASK


@contextmanager
def replacing(path: Path) -> Iterator[str]:
    """A temporary file beside ``path``, renamed into place if the block succeeds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    with replacing(path) as tmp, open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2) + "\n")


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def save_tensors(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    """Atomically save tensors as safetensors (contiguous, detached copies)."""
    with replacing(path) as tmp:
        save_file({k: v.detach().contiguous() for k, v in tensors.items()}, tmp)


def load_tensors(path: Path) -> dict[str, torch.Tensor]:
    """Tensors saved by :func:`save_tensors`.

    Raises:
        FileNotFoundError: there is no such file (``filename`` names it).
    """
    if not path.is_file():
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(path))
    return load_file(str(path))


def shape_mismatch(expected: dict[str, torch.Tensor], found: dict[str, torch.Tensor]) -> str:
    """The first difference between a network's tensors (``expected``, its
    ``state_dict()``) and the saved ones meant for it (``found``); '' if none."""
    missing = [name for name in expected if name not in found]
    if missing:
        return f"the saved weights lack '{missing[0]}' ({len(missing)} missing)"
    extra = [name for name in found if name not in expected]
    if extra:
        return f"the saved weights hold '{extra[0]}', which the network lacks ({len(extra)} extra)"
    for name, tensor in expected.items():
        if tuple(tensor.shape) != tuple(found[name].shape):
            want, got = ("×".join(map(str, t.shape)) or "scalar" for t in (tensor, found[name]))
            return f"'{name}' is {got} in the saved weights but {want} in the network"
    return ""


def replace_dir(staging: Path, target: Path) -> None:
    """Swap a fully written staging folder into place of ``target``."""
    old = target.with_name(f".{target.name}.old")
    if old.exists():
        shutil.rmtree(old)
    if target.exists():
        os.replace(target, old)
    os.replace(staging, target)
    if old.exists():
        shutil.rmtree(old)


def staging_dir(target: Path) -> Path:
    """A fresh, empty folder beside ``target`` to write into before swapping."""
    target.parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"))
    folder.chmod(DIR_MODE)
    return folder
