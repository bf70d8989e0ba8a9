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


def registered(kind: str) -> dict[str, type[BaseModel]]:
    """The options classes registered for a plug-in kind, by name in sorted order."""
    return dict(sorted(_OPTIONS.get(kind, {}).items()))
