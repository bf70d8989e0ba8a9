"""Render a report template from ``report/templates`` with one jinja2 setup.

HTML templates (``*.html.j2``) are autoescaped; Markdown and other text
templates are not, since escaping would litter them with entities. A name
the template uses but the context lacks is an error, never a blank.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jinja2

TEMPLATES = Path(__file__).parent / "templates"


def render(
    template_name: str,
    context: Mapping[str, Any],
    filters: Mapping[str, Callable[..., str]] | None = None,
) -> str:
    """Render one template of ``report/templates``.

    Args:
        template_name: the file name, e.g. ``model_card.md.j2``.
        context: the names the template reads.
        filters: extra jinja filters by name, e.g. a number formatter.

    Returns:
        The rendered text.

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
    env.filters.update(filters or {})
    return env.get_template(template_name).render(**context)
