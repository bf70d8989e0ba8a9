"""The data layer: read a source (file, folder or built-in) into a Dataset.

Public entry points: :func:`read_source` for anything a config names,
:func:`load_builtin` for the shipped data sets (:data:`BUILTIN_NAMES`), and
:func:`fetch` to download the full canonical versions into the cache.
"""

from tailorml.data.builtin import BUILTIN_NAMES, load_builtin
from tailorml.data.dataset import Dataset
from tailorml.data.fetch import fetch
from tailorml.data.readers import read_source

__all__ = ["BUILTIN_NAMES", "Dataset", "fetch", "load_builtin", "read_source"]
