"""Find the config class behind a pydantic error location."""

from __future__ import annotations

import types
import typing
from typing import Any, Union

from pydantic import BaseModel


def fields_at(schema: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Valid key names of the config block at a pydantic error location."""
    ann: Any = schema
    for part in loc:
        ann = _unwrap(ann, part)
        if ann is None:
            return []
    model = _unwrap(ann, None)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return sorted(model.model_fields)
    return []


def _unwrap(ann: Any, part: Any) -> Any:
    """Step from a type annotation to the annotation at ``part`` below it."""
    origin = typing.get_origin(ann)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(ann)[0], part)
    if origin in (Union, types.UnionType):
        members = [a for a in typing.get_args(ann) if a is not type(None)]
        for member in members:
            lit = getattr(member, "model_fields", {}).get("type")
            if lit is not None and part in typing.get_args(lit.annotation):
                return member  # the tag itself selects the union member
        return _unwrap(members[0], part) if len(members) == 1 else None
    if part is None:
        return ann
    if origin in (list, tuple):
        return typing.get_args(ann)[0] if isinstance(part, int) else None
    if origin is dict:
        return typing.get_args(ann)[1]
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        field = ann.model_fields.get(str(part))
        return field.annotation if field is not None else None
    return None
