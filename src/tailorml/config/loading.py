"""Read a YAML config, validate it, and explain every mistake by line.

Errors name the key, its line in the file and, for unknown keys, the nearest
valid name: ``config.yaml, line 12: unknown key 'epoch' in training — did you
mean 'epochs'?``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from tailorml.config.introspect import fields_at
from tailorml.config.model import ModelConfig
from tailorml.errors import ConfigError, dash_hint

Loc = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)


def load_config(path: str | Path, schema: type[M] = ModelConfig) -> M:  # type: ignore[assignment]
    """Load and validate a YAML config file.

    Raises:
        ConfigError: the file is missing, a folder, not UTF-8 YAML text, or
            does not fit the schema.
    """
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file '{path}' does not exist.")
    if not path.is_file():
        raise ConfigError(f"config file '{path}' is a folder, not a YAML file.")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"config file '{path}' is not UTF-8 text (byte 0x{err.object[err.start]:02x} at "
            f"offset {err.start}); a config is a YAML text file."
        ) from None
    return parse_config(text, schema, source=str(path))


def parse_config(text: str, schema: type[M] = ModelConfig, source: str = "<config>") -> M:  # type: ignore[assignment]
    """Validate YAML text against ``schema``; see :func:`load_config`."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err)
        raise ConfigError(f"{source}{where}: not valid YAML: {problem}.") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of keys at the top level.")
    lines = line_map(node) if node is not None else {}
    try:
        return schema.model_validate(data)
    except ValidationError as err:
        raise ConfigError(explain(err, schema, data, lines, source)) from None


def dump_config(config: BaseModel) -> str:
    """YAML text of a config; loading it gives an equal object."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)


def line_map(node: yaml.Node, loc: Loc = ()) -> dict[Loc, int]:
    """Map each key path in a composed YAML document to its 1-based line."""
    lines: dict[Loc, int] = {loc: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            sub = (*loc, str(key.value))
            lines.update(line_map(value, sub))
            lines[sub] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines.update(line_map(item, (*loc, i)))
    return lines


def explain(
    err: ValidationError, schema: type[BaseModel], data: Any, lines: dict[Loc, int], source: str
) -> str:
    """One paragraph naming every problem in a validation error."""
    parts = [_explain_one(e, schema, data, lines) for e in err.errors()]
    count = f"{len(parts)} problems" if len(parts) > 1 else "1 problem"
    return f"{source}: {count}: " + " ".join(parts)


def _explain_one(e: Any, schema: type[BaseModel], data: Any, lines: dict[Loc, int]) -> str:
    loc = data_loc(tuple(e["loc"]), data)
    kind = e["type"]
    ctx = e.get("ctx") or {}
    if kind == "plugin_options":
        block = (ctx["block"],) if ctx.get("block") else ()
        loc = (*loc, *block, *ctx.get("subloc", ()))
        return f"line {_line(loc, lines)}: {_dotted(loc[:-1]) or 'top level'}: {e['msg']}"
    if kind == "extra_forbidden":
        key = str(loc[-1])
        parent = loc[:-1]
        valid = fields_at(schema, tuple(e["loc"])[:-1])
        tip = dash_hint(key, valid) or f" (valid keys: {', '.join(valid)})."
        where = f" in {_dotted(parent)}" if parent else ""
        return f"line {_line(loc, lines)}: unknown key '{key}'{where}{tip}"
    if kind == "union_tag_invalid":
        loc = (*loc, str(ctx.get("discriminator", "type")).strip("'"))
        return (
            f"line {_line(loc, lines)}: {_dotted(loc)}: {ctx.get('tag')!r} is not one of "
            f"{ctx.get('expected_tags')}."
        )
    if kind == "missing":
        return f"line {_line(loc[:-1], lines)}: missing required key '{_dotted(loc)}'."
    got = e.get("input")
    shown = f" (got {got!r}{_type_hint(kind, got)})" if not isinstance(got, dict | list) else ""
    return f"line {_line(loc, lines)}: {_dotted(loc) or 'top level'}: {e['msg']}{shown}."


def _type_hint(kind: str, got: Any) -> str:
    """Why a value that looks right has the wrong type (config types are strict)."""
    if kind not in ("int_type", "float_type"):
        return ""
    if isinstance(got, bool):
        return ": true and false are booleans, not numbers"
    if isinstance(got, str) and _is_number(got):
        return ": a number in quotes is text; write it without quotes"
    if kind == "int_type" and isinstance(got, float):
        return ": this key takes a whole number"
    return ""


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def data_loc(loc: tuple[Any, ...], data: Any) -> Loc:
    """Drop the union tags pydantic puts in error locations (``image`` in
    ``input_features.0.image.preprocessing``), keeping only real keys."""
    out: list[str | int] = []
    cur = data
    for part in loc:
        if isinstance(cur, list) and isinstance(part, int):
            cur = cur[part] if part < len(cur) else None
        elif isinstance(cur, dict) and part in cur:
            cur = cur[part]
        elif isinstance(cur, dict) and isinstance(part, str) and part in map(str, cur.values()):
            continue  # a discriminator tag such as 'image'
        else:
            cur = None
        out.append(part)
    return tuple(out)


def _line(loc: Loc, lines: dict[Loc, int]) -> int | str:
    while loc and loc not in lines:
        loc = loc[:-1]
    return lines.get(loc, "?")


def _dotted(loc: Loc) -> str:
    return ".".join(str(p) for p in loc)


ConfigLike = ModelConfig | dict[str, Any] | str | Path


def as_config(config: ConfigLike) -> ModelConfig:
    """Accept a config object, a dict or a YAML file path."""
    if isinstance(config, ModelConfig):
        return config
    if isinstance(config, dict):
        try:
            return ModelConfig.model_validate(config)
        except ValidationError as err:
            raise ConfigError(explain(err, ModelConfig, config, {}, "<config>")) from None
    return load_config(config)
