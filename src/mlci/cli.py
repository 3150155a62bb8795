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


# -- init -------------------------------------------------------------------------------

_INIT_ANSWER_FLAGS = (
    "task", "data", "eval_data", "target", "model", "train_command", "install_command",
    "registry", "retrain_schedule", "retrain_mode", "python", "default_branch", "runs_on",
    "action_ref",
)


def _run_init(args: argparse.Namespace) -> int:
    from mlci import scaffold
    from mlci.errors import EXIT_FAILED

    def ask(question: scaffold.Question) -> str | None:
        """Prompt on the terminal; an empty answer takes the default, '-' means none."""
        default = question.default
        choices = f" ({'/'.join(question.choices)})" if 0 < len(question.choices) <= 6 else ""
        shown = f" [{default}]" if default else " [none]"
        while True:
            reply = input(f"{question.text}{choices}{shown}: ").strip()
            if not reply:
                return default
            if reply == "-":
                return ""
            fixed = question.key in ("task", "registry", "retrain_mode")
            if fixed and reply not in question.choices:
                print(f"  choose one of: {', '.join(question.choices)}")
                continue
            return reply

    root = scaffold.git_root(args.directory)
    given = {key: getattr(args, key) for key in _INIT_ANSWER_FLAGS}
    interactive = not (args.yes or args.check) and sys.stdin.isatty() and sys.stdout.isatty()
    answers = scaffold.resolve_answers(root, given, ask=ask if interactive else None)
    planned = scaffold.plan(root, answers, given=given)
    if args.check:
        stale = [p for p in planned if p.status in ("create", "update")]
        for p in stale:
            if p.status == "create":
                print(f"missing: {p.path}")
            else:
                print(f"stale: {p.path}")
                sys.stdout.write(p.diff())
        if stale:
            print(
                f"mlci init --check: {len(stale)} file(s) differ from what mlci {mlci.__version__}"
                " generates; run `mlci init --force` to regenerate them"
            )
            return EXIT_FAILED
        print(f"mlci init --check: all files are up to date (mlci {mlci.__version__})")
        return EXIT_OK
    if args.dry_run:
        for p in planned:
            if p.status == "create":
                print(f"would create {p.path}:")
                sys.stdout.write(p.text)
            elif p.status == "update":
                need = "" if args.force else " (changed on disk: needs --force)"
                print(f"would replace {p.path}{need}:")
                sys.stdout.write(p.diff())
            elif p.status == "keep":
                print(f"would keep {p.path} (exists; its values were used)")
            else:
                print(f"unchanged {p.path}")
        return EXIT_OK
    if not args.force:
        for p in planned:
            if p.status == "update":
                sys.stdout.write(p.diff())
    written = scaffold.write(root, planned, force=args.force)
    verbs = {"create": "created", "update": "replaced", "unchanged": "unchanged", "keep": "kept"}
    for p in planned:
        note = " (exists; its values were used)" if p.status == "keep" else ""
        print(f"{verbs[p.status]} {p.path}{note}")
    if written:
        print(
            "next: commit mlci.yaml and .github/workflows/mlci-*.yml, then open a pull"
            " request; the deploy workflow needs the GitHub environment"
            f" {answers.deploy_environment!r}"
        )
    return EXIT_OK


def _add_init_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    init = sub.add_parser(
        "init",
        help="write mlci.yaml and the GitHub workflows for this repository",
        description=(
            "Write mlci.yaml and .github/workflows/mlci-{pr,comment,deploy,retrain}.yml."
            " Answers come from the flags, an existing mlci.yaml, prompts on a terminal,"
            " or what mlci detects in the repository. A file you changed is never"
            " overwritten without --force."
        ),
    )
    init.add_argument(
        "-C", "--directory", type=Path, default=Path(), metavar="DIR",
        help="a folder inside the git repository (default: .)",
    )
    init.add_argument("--task", choices=("classification", "regression"))
    init.add_argument("--data", metavar="PATH", help="reference (training) data file")
    init.add_argument("--eval-data", metavar="PATH", help="holdout data the model is evaluated on")
    init.add_argument("--target", metavar="COLUMN", help="label column")
    init.add_argument("--model", metavar="PATH", help="model file the train command writes")
    init.add_argument("--train-command", metavar="CMD", help="shell command that trains the model")
    init.add_argument(
        "--install-command", metavar="CMD",
        help="shell command that installs the project's dependencies in the workflows",
    )
    init.add_argument("--registry", choices=("local", "github"), help="model registry backend")
    init.add_argument("--retrain-schedule", metavar="CRON", help="cron schedule (UTC)")
    init.add_argument("--retrain-mode", choices=("pull-request", "deploy"))
    init.add_argument("--python", metavar="X.Y", help="Python version of the workflows")
    init.add_argument("--default-branch", metavar="BRANCH")
    init.add_argument("--runs-on", metavar="LABELS", help="runner label(s), comma-separated")
    init.add_argument(
        "--action-ref", metavar="[OWNER/REPO@]SHA[#TAG]",
        help="pin mlci's actions to this commit instead of the one recorded for this release",
    )
    mode = init.add_mutually_exclusive_group()
    mode.add_argument("--force", action="store_true", help="replace files that were changed")
    mode.add_argument("--dry-run", action="store_true", help="print what would be written")
    mode.add_argument(
        "--check", action="store_true",
        help="exit 1 when the files on disk differ from what this mlci would generate",
    )
    init.add_argument("-y", "--yes", action="store_true", help="take the defaults, never prompt")
    init.set_defaults(handler=_run_init)


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
    _add_init_parsers(sub)
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
