"""The ``mlci`` command line: every parser, the dispatch, and the exit codes.

Commands are plain typed functions in their own modules; the ``_run_*``
functions here translate parsed arguments into keyword arguments, so no
``argparse.Namespace`` travels further. Heavy libraries (pandas, scikit-learn,
onnxruntime, pyarrow) are imported only inside the commands that need them, so
``mlci --help`` and ``mlci --version`` start fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import mlci
from mlci.error_handler import run_guarded
from mlci.errors import EXIT_OK

__all__ = ["build_parser", "main"]

Handler = Callable[[argparse.Namespace], int]


def _add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="PATH",
        help="mlci.yaml to use (default: ./mlci.yaml)",
    )


def _add_results_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--results",
        type=Path,
        default=None,
        metavar="DIR",
        help="directory of results files (default: mlci-results/)",
    )


class _VersionAction(argparse.Action):
    """``--version``, reading the installed version only when asked."""

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        sys.stdout.write(f"mlci {mlci.__version__}\n")
        parser.exit()


# -- config -----------------------------------------------------------------------------


def _run_config_check(args: argparse.Namespace) -> int:
    from mlci.config import find_config, load_config

    path = find_config(args.path)
    cfg = load_config(path)
    print(f"{path}: ok ({cfg.task}, registry {cfg.registry.backend})")
    return EXIT_OK


def _run_config_schema(args: argparse.Namespace) -> int:
    from mlci.config import config_schema

    text = json.dumps(config_schema(), indent=2) + "\n"
    if args.output:
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _add_config_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    config = sub.add_parser(
        "config",
        help="check mlci.yaml or print its JSON Schema",
        description="Work with mlci.yaml.",
    )
    config_sub = config.add_subparsers(dest="config_command", metavar="COMMAND", required=True)
    check = config_sub.add_parser(
        "check",
        help="validate an mlci.yaml and report every problem with its line",
        description="Validate an mlci.yaml; exit 2 and list every problem when it is invalid.",
    )
    check.add_argument(
        "path", nargs="?", type=Path, default=None, help="file to check (default: ./mlci.yaml)"
    )
    check.set_defaults(handler=_run_config_check)
    schema = config_sub.add_parser(
        "schema",
        help="print the JSON Schema of mlci.yaml (for editors)",
        description="Print the JSON Schema of mlci.yaml, generated from mlci's config model.",
    )
    schema.add_argument("-o", "--output", type=Path, default=None, help="write to this file")
    schema.set_defaults(handler=_run_config_schema)


# -- parser -------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The complete argument parser (every command that works today)."""
    parser = argparse.ArgumentParser(
        prog="mlci",
        description=(
            "Continuous integration, delivery and training for machine-learning projects on GitHub."
        ),
        epilog="Exit codes: 0 passed, 1 a gate failed, 2 bad usage/config/input, 3 internal error.",
    )
    parser.add_argument(
        "--version", action=_VersionAction, nargs=0, help="print the version and exit"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    _add_config_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run mlci with ``argv`` (default: ``sys.argv[1:]``) and return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return EXIT_OK
    return run_guarded(lambda: handler(args))


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
