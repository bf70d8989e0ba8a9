"""Small helpers shared by the data modules: file hashes and name suggestions."""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Iterable
from pathlib import Path

_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    """Return the hex SHA-256 of a file, read in 1 MiB chunks.

    Args:
        path: the file to hash.

    Returns:
        The 64-character lower-case hex digest.
    """
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return `` Did you mean 'X'?`` for the closest choice, or an empty string.

    Args:
        name: what the user typed.
        choices: the valid names.

    Returns:
        A sentence to append to an error message (with a leading space), or "".
    """
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""
