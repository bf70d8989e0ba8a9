"""User-facing errors, and the "did you mean" hints their messages carry.

Every problem caused by the user's input (a config typo, a broken CSV row, a
missing file) is raised as a :class:`TailorError`. The CLI prints its message as
one paragraph and exits with code 2; it never shows a Python traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class TailorError(Exception):
    """A problem with the user's input, explained in one paragraph."""

    exit_code = 2


class ConfigError(TailorError):
    """The configuration file is invalid (unknown key, wrong type, bad value)."""


class DataError(TailorError):
    """The data cannot be read or does not fit the configuration."""


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """`` Did you mean 'X'?`` for the closest choice (to append to a message), or ""."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""


def dash_hint(name: str, choices: Iterable[str]) -> str:
    """`` — did you mean 'X'?`` for the closest choice, or ""."""
    close = difflib.get_close_matches(name, [str(c) for c in choices], n=1)
    return f" — did you mean '{close[0]}'?" if close else ""
