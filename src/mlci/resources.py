"""Where mlci's shipped folders (``templates/``, ``examples/``) live.

The top-level folders of the repository are the single source. A wheel carries
them as ``mlci/templates`` and ``mlci/examples`` (hatch force-include); a checkout
or an editable install finds them beside ``src/``. This is the one lookup for all
three ways of running mlci.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from mlci.errors import TemplateError

__all__ = ["shipped_dir"]

_MARKERS = {"templates": "mlci.yaml.j2", "examples": "breast-cancer/mlci.yaml"}


def shipped_dir(name: Literal["templates", "examples"]) -> Path:
    """The folder ``name`` as installed (wheel) or checked out (source, editable).

    Raises:
        TemplateError: when neither place has it (a broken install).
    """
    package = Path(__file__).resolve().parent
    candidates = (package / name, package.parent.parent / name)
    for candidate in candidates:
        if (candidate / _MARKERS[name]).is_file():
            return candidate
    raise TemplateError(
        f"mlci's {name} folder is missing (looked in {candidates[0]} and {candidates[1]});"
        " reinstall mlci"
    )
