"""`mlci schema infer`: a commented, editable schema from reference data or a profile."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlci.config import Config
from mlci.errors import InputError

__all__ = ["InferredSchema", "infer_schema_file"]


@dataclass(frozen=True)
class InferredSchema:
    """What `infer_schema_file` produced.

    Attributes:
        text: The schema as commented YAML.
        output: The file written, or None when the text goes to standard output.
        columns: How many columns the schema describes.
        rows: How many rows it was inferred from.
        unsupported: ``(column, why)`` for each column that is not checked.
    """

    text: str
    output: Path | None
    columns: int
    rows: int
    unsupported: tuple[tuple[str, str], ...]


def infer_schema_file(
    data: Path,
    *,
    config: Config | None,
    output: Path | None = None,
    update: bool = False,
    force: bool = False,
    max_domain: int = 100,
    margin: float = 0.1,
) -> InferredSchema:
    """Infer a schema from ``data`` and write it (``output`` ``-``: return the text only).

    Args:
        data: Reference data or a saved profile.
        config: The loaded mlci.yaml, or None (defaults).
        output: The schema file (default: ``data.schema``, else ``mlci/schema.yaml``).
        update: Re-infer an existing file, keeping the edits made to it by hand.
        force: Replace an existing file.
        max_domain: Text columns with at most this many values get a domain.
        margin: Widen number ranges by this share of their width on each side.

    Raises:
        InputError: for conflicting options, or an existing schema without ``update``
            or ``force`` (it may hold the user's edits).
    """
    from mlci.data.profile import is_profile_file, load_profile, profile_path
    from mlci.data.schema import infer_schema, load_schema, merge_update, render_schema

    cfg = config.data if config else None
    target: Path = output or (
        config.resolve(config.data.schema) if config else Path("mlci/schema.yaml")
    )
    to_stdout = str(target) == "-"
    if update and force:
        raise InputError("schema infer: give --update or --force, not both")
    if to_stdout and update:
        raise InputError(
            "schema infer: --update needs the schema file to merge with; pass -o PATH, not -o -"
        )
    if not to_stdout and target.exists() and not (update or force):
        raise InputError(
            f"{target}: the schema already exists and may hold your edits; re-infer it keeping"
            f" them with `mlci schema infer {data} -o {target} --update`, or replace it"
            " with --force"
        )
    if is_profile_file(data):
        profile = load_profile(data)
    else:
        chunk_rows = cfg.chunk_rows if cfg else 250_000
        profile = profile_path(data, chunk_rows=chunk_rows, track_unique=True)
    schema = infer_schema(
        profile,
        max_domain=max_domain,
        margin=margin,
        target=cfg.target if cfg else None,
        id_columns=cfg.id_columns if cfg else (),
    )
    if update and target.exists():
        schema = merge_update(load_schema(target), schema)
    text = render_schema(schema, profile=profile, source=str(data))
    if not to_stdout:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    unsupported = tuple(
        (name, col.unsupported) for name, col in profile.columns.items() if col.unsupported
    )
    return InferredSchema(
        text, None if to_stdout else target, len(schema.columns), profile.rows, unsupported
    )
