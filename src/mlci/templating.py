"""The one Jinja environment, and where the templates live.

Workflow templates contain GitHub's own ``${{ ... }}`` expressions, so mlci's
templates use bracket delimiters (``[[ var ]]``, ``[% if %]``, ``[# comment #]``)
and `StrictUndefined`: ``${{ github.sha }}`` is written out literally, and a
missing variable fails loudly instead of leaving a blank.

The top-level ``templates/`` folder is the single source. A wheel carries it as
``mlci/templates`` (hatch force-include); a checkout or an editable install
finds it beside ``src/``; `mlci.resources.shipped_dir` is the one lookup for all three.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlci.errors import TemplateError
from mlci.resources import shipped_dir

if TYPE_CHECKING:
    import jinja2

__all__ = ["environment", "render", "templates_dir"]


def templates_dir() -> Path:
    """The folder holding mlci's templates, in a wheel, an editable install or a checkout.

    Raises:
        TemplateError: when neither place has it (a broken install).
    """
    return shipped_dir("templates")


@cache
def environment() -> jinja2.Environment:
    """The shared Jinja environment (bracket delimiters, StrictUndefined, no autoescape)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir()),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        block_start_string="[%",
        block_end_string="%]",
        variable_start_string="[[",
        variable_end_string="]]",
        comment_start_string="[#",
        comment_end_string="#]",
    )
    # `| yaml`: a value as a double-quoted YAML scalar (JSON string syntax, every
    # non-ASCII character escaped), which no content can break out of.
    env.filters["yaml"] = _yaml_scalar
    return env


def _yaml_scalar(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=True)


def render(name: str, context: dict[str, Any]) -> str:
    """Render the template ``name`` (relative to `templates_dir`) with ``context``.

    Raises:
        TemplateError: when the template is missing or uses an undefined variable.
    """
    import jinja2

    try:
        return environment().get_template(name).render(**context)
    except jinja2.TemplateNotFound:
        raise TemplateError(f"template {name!r} not found in {templates_dir()}") from None
    except jinja2.UndefinedError as exc:
        raise TemplateError(f"template {name!r}: {exc.message}") from None
