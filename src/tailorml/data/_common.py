"""Small helpers shared by the data modules: file hashes and name suggestions."""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Iterable
from pathlib import Path

_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    """The lower-case hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """`` Did you mean 'X'?`` for the closest choice (to append to a message), or ""."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""


def dash_hint(name: str, choices: Iterable[str]) -> str:
    """`` — did you mean 'X'?`` for the closest choice, or ""."""
    close = difflib.get_close_matches(name, [str(c) for c in choices], n=1)
    return f" — did you mean '{close[0]}'?" if close else ""
