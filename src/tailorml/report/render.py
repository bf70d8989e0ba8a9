"""Render a report template from ``report/templates`` with one jinja2 setup,
and the formatters every page shares.

HTML templates (``*.html.j2``) are autoescaped and extend ``base.html.j2``,
which holds the shared stylesheet ``style.css``; Markdown and other text
templates are not escaped, since escaping would litter them with entities. A
name the template uses but the context lacks is an error, never a blank.
Every template may use the filters ``fmt`` (:func:`format_value`), ``num``
(:func:`format_number`) and ``interval`` (:func:`format_interval`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2

TEMPLATES = Path(__file__).parent / "templates"


def format_value(value: Any, small: str = ".4f") -> str:
    """Format a metric for display: ``small`` format below 1,000 (4 decimals
    by default), thousands separators above, "—" for None."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 1000 else format(value, small)
    return str(value)


def format_number(value: Any) -> str:
    """A figure to 4 significant digits: small costs keep their digits (``2e-05``)."""
    return format_value(value, small=".4g")


def format_interval(bounds: Sequence[float] | None, spec: str = ".3f") -> str:
    """A 95% interval as ``[low, high]``; empty when there is none."""
    return f"[{bounds[0]:{spec}}, {bounds[1]:{spec}}]" if bounds else ""


def render(
    template_name: str,
    context: Mapping[str, Any],
    filters: Mapping[str, Callable[..., str]] | None = None,
) -> str:
    """Render one template of ``report/templates``.

    Args:
        template_name: the file name, e.g. ``model_card.md.j2``.
        context: the names the template reads.
        filters: jinja filters by name beyond (or replacing) the shared ones.

    Raises:
        jinja2.UndefinedError: the template reads a name the context lacks.
    """
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=template_name.endswith(".html.j2"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(fmt=format_value, num=format_number, interval=format_interval)
    env.filters.update(filters or {})
    return env.get_template(template_name).render(**context)
