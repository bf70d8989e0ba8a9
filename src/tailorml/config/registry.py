"""Option schemas of registered plug-ins, kept apart from their torch code.

The model layer registers each encoder's options class here (see
``tailorml.models.registry.register_encoder``) so that the config layer can
validate ``encoder:`` blocks at load time without importing torch models.
"""

from __future__ import annotations

from pydantic import BaseModel

_OPTIONS: dict[str, dict[str, type[BaseModel]]] = {"encoder": {}, "decoder": {}}


def register_options(kind: str, name: str, options: type[BaseModel]) -> None:
    """Record the options class of plug-in ``name`` of the given kind."""
    _OPTIONS.setdefault(kind, {})[name] = options


def options_for(kind: str, name: str) -> type[BaseModel] | None:
    """Return the options class registered under ``name``, or None."""
    return _OPTIONS.get(kind, {}).get(name)


def registered_names(kind: str) -> list[str]:
    """Names registered for a plug-in kind, sorted."""
    return sorted(_OPTIONS.get(kind, {}))
