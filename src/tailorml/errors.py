"""User-facing errors.

Every problem caused by the user's input (a config typo, a broken CSV row, a
missing file) is raised as a :class:`TailorError`. The CLI prints its message as
one paragraph and exits with code 2; it never shows a Python traceback.
"""

from __future__ import annotations


class TailorError(Exception):
    """A problem with the user's input, explained in one paragraph."""

    exit_code = 2


class ConfigError(TailorError):
    """The configuration file is invalid (unknown key, wrong type, bad value)."""


class DataError(TailorError):
    """The data cannot be read or does not fit the configuration."""
