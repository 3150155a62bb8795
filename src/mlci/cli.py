"""The ``mlci`` command line: every parser, the dispatch, and the exit codes.

Commands are plain typed functions in their own modules; the ``_run_*``
functions here translate parsed arguments into keyword arguments, so no
``argparse.Namespace`` travels further. Heavy libraries (pandas, scikit-learn,
onnxruntime, pyarrow) are imported only inside the commands that need them, so
``mlci --help`` and ``mlci --version`` start fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mlci
from mlci import jsonio
from mlci.error_handler import run_guarded
from mlci.errors import EXIT_OK

if TYPE_CHECKING:
    from mlci.scaffold import Answers, PlannedFile, Question

__all__ = ["build_parser", "main"]

Handler = Callable[[argparse.Namespace], int]


# -- shared options: each flag several commands take is declared once -------------------


def _add_path_option(
    parser: argparse._ActionsContainer,
    *flags: str,
    help: str,
    metavar: str = "PATH",
) -> None:
    """An optional path flag with no default value: the config or the command fills it."""
    parser.add_argument(*flags, type=Path, default=None, metavar=metavar, help=help)


def _add_output_option(parser: argparse.ArgumentParser, help: str, metavar: str = "PATH") -> None:
    """``-o/--output``: where a command writes its file."""
    _add_path_option(parser, "-o", "--output", metavar=metavar, help=help)


def _add_config_option(parser: argparse.ArgumentParser) -> None:
    _add_path_option(parser, "--config", help="mlci.yaml to use (default: ./mlci.yaml)")


def _add_results_option(parser: argparse.ArgumentParser) -> None:
    _add_path_option(
        parser,
        "--results",
        metavar="DIR",
        help="directory of results files (default: mlci-results/)",
    )


def _config(args: argparse.Namespace) -> Any:
    """The mlci.yaml named by ``--config`` (default: ./mlci.yaml), loaded and checked."""
    from mlci.config import find_config, load_config

    return load_config(find_config(args.config))


def _results_dir(args: argparse.Namespace) -> Path:
    """The ``--results`` directory, or the default one."""
    from mlci.results import DEFAULT_RESULTS_DIR

    return args.results or Path(DEFAULT_RESULTS_DIR)


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

    text = jsonio.dumps(config_schema()) + "\n"
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
    "task",
    "data",
    "current",
    "eval_data",
    "target",
    "id_columns",
    "model",
    "train_command",
    "test_command",
    "install_command",
    "registry",
    "retrain_schedule",
    "retrain_mode",
    "python",
    "default_branch",
    "runs_on",
    "action_ref",
    "monitor",
    "monitor_schedule",
    "monitor_data_command",
    "shards",
)


def _ask(question: Question) -> str | None:
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


def _run_init(args: argparse.Namespace) -> int:
    from mlci import scaffold

    root = scaffold.git_root(args.directory)
    given = {key: getattr(args, key) for key in _INIT_ANSWER_FLAGS}
    given["monitor"] = "yes" if args.monitor else None
    interactive = not (args.yes or args.check) and sys.stdin.isatty() and sys.stdout.isatty()
    resolved = scaffold.resolve(root, given, ask=_ask if interactive else None)
    planned = scaffold.plan(root, resolved.answers, given=given)
    if args.check:
        return _init_check(planned)
    _print_summary(resolved)
    if args.dry_run:
        _init_dry_run(planned, force=args.force)
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
        _init_next_steps(root, resolved.answers)
    return EXIT_OK


def _init_check(planned: Sequence[PlannedFile]) -> int:
    """``mlci init --check``: name each missing or stale file with its changes; 1 if any."""
    from mlci import scaffold
    from mlci.errors import EXIT_FAILED

    stale = [p for p in planned if p.status in ("create", "update")]
    for p in stale:
        if p.status == "create":
            print(f"missing: {p.path}")
            continue
        print(f"stale: {p.path}")
        assert p.old is not None
        for change in scaffold.structure_changes(p.path, p.old, p.text):
            print(f"  {change}")
        sys.stdout.write(p.diff())
    if stale:
        print(
            f"mlci init --check: {len(stale)} file(s) differ from what mlci {mlci.__version__}"
            " generates; run `mlci init --force` to regenerate them"
        )
        return EXIT_FAILED
    print(f"mlci init --check: all files are up to date (mlci {mlci.__version__})")
    return EXIT_OK


def _init_dry_run(planned: Sequence[PlannedFile], *, force: bool) -> None:
    """``mlci init --dry-run``: print what would be created, replaced or kept."""
    for p in planned:
        if p.status == "create":
            print(f"would create {p.path}:")
            sys.stdout.write(p.text)
        elif p.status == "update":
            need = "" if force else " (changed on disk: needs --force)"
            print(f"would replace {p.path}{need}:")
            sys.stdout.write(p.diff())
        elif p.status == "keep":
            print(f"would keep {p.path} (exists; its values were used)")
        else:
            print(f"unchanged {p.path}")


def _init_data_secrets_note(answers: Answers) -> None:
    """Name the secrets the monitor's and the retrain's data commands read, if any."""
    from mlci.scaffold.deploy_env import command_secret_names

    found = [
        (", ".join(names), key)
        for names, key in (
            (
                command_secret_names(answers.monitor_data_command) if answers.monitor else (),
                "monitor.data_command",
            ),
            (
                tuple(filter(None, (answers.retrain_secrets or "").split(","))),
                "retrain.data_command",
            ),
        )
        if names
    ]
    if found:
        named = "; ".join(f"{names} ({key})" for names, key in found)
        print(
            f"then: add the repository secrets the data commands reference: {named}"
            " (Settings → Secrets and variables → Actions); each reaches only the step that"
            " runs its command"
        )


def _init_next_steps(root: Path, answers: Answers) -> None:
    """After files were written: commit, the pre-release pin, and the schema to infer."""
    from mlci import _release

    print(
        "next: commit mlci.yaml and .github/workflows/mlci-*.yml, then open a pull"
        " request; the deploy workflow needs the GitHub environment"
        f" {answers.deploy_environment!r}"
        + (
            f" with the secrets {answers.deploy_secrets.replace(',', ', ')} (named by the"
            " deploy step in mlci.yaml)"
            if answers.deploy_secrets
            else ""
        )
    )
    _init_data_secrets_note(answers)
    if not answers.action_ref and not _release.TAGGED:
        print(
            f"note: the workflows pin mlci's action to {_release.OWNER}/"
            f"{_release.REPOSITORY}@{_release.COMMIT[:12]}, a pre-release commit (no"
            " release of mlci is tagged yet); after upgrading mlci, `mlci init --check`"
            " shows the new pin"
        )
    if not (root / "mlci" / "schema.yaml").is_file() and answers.data:
        import shlex

        cmd = f"mlci schema infer {shlex.quote(answers.data)}"
        if root.resolve() != Path.cwd().resolve():
            cmd = f"cd {shlex.quote(str(root))} && {cmd}"
        print(
            f"then: run `{cmd}` and commit mlci/schema.yaml, so data is"
            " checked against a schema you reviewed, not one inferred on each run"
        )


#: The answers init's summary shows, in order, with their labels.
_SUMMARY = (
    ("data", "reference data"),
    ("target", "target"),
    ("task", "task"),
    ("id_columns", "id columns"),
    ("date_columns", "date columns"),
    ("current", "current data"),
    ("eval_data", "eval data"),
    ("model", "model file"),
    ("train_command", "train command"),
    ("test_command", "test command"),
    ("params", "parameter files"),
    ("install_command", "install command"),
    ("registry", "registry"),
    ("default_branch", "default branch"),
    ("python", "python"),
)


def _print_summary(resolved: Any) -> None:
    """What init decided, and where each answer came from (with --yes too)."""
    print("mlci init: answers (and where each came from)")
    for key, label in _SUMMARY:
        value = getattr(resolved.answers, key)
        shown = value if value is not None else "-"
        source = resolved.sources.get(key, "default")
        print(f"  {label:<16} {shown!s:<24} {source}")


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
        "-C",
        "--directory",
        type=Path,
        default=Path(),
        metavar="DIR",
        help="a folder inside the git repository (default: .)",
    )
    _add_init_project_answers(init)
    _add_init_workflow_answers(init)
    _add_init_modes(init)
    init.set_defaults(handler=_run_init)


def _add_init_project_answers(init: argparse.ArgumentParser) -> None:
    """The answers about the project: task, data, columns, model and its commands."""
    init.add_argument("--task", choices=("classification", "regression"))
    init.add_argument("--data", metavar="PATH", help="reference (training) data file")
    init.add_argument(
        "--current",
        metavar="PATH",
        help="data checked against the reference on every pull request (default: the reference)",
    )
    init.add_argument("--eval-data", metavar="PATH", help="holdout data the model is evaluated on")
    init.add_argument(
        "--target",
        metavar="COLUMN",
        help="label column (the task then follows from its values unless --task is given)",
    )
    init.add_argument(
        "--id-columns",
        metavar="COLS",
        help="comma-separated columns that identify a row (not features); '' for none",
    )
    init.add_argument("--model", metavar="PATH", help="model file the train command writes")
    init.add_argument("--train-command", metavar="CMD", help="shell command that trains the model")
    init.add_argument(
        "--test-command",
        metavar="CMD",
        help="command that runs the project's tests before training (ci.test_command);"
        " '' for none (default: pytest when tests/ or a pytest configuration exists)",
    )
    init.add_argument(
        "--install-command",
        metavar="CMD",
        help="shell command that installs the project's dependencies in the workflows",
    )


def _add_init_workflow_answers(init: argparse.ArgumentParser) -> None:
    """The answers about the workflows: registry, retrain, monitor, runners and pins."""
    init.add_argument("--registry", choices=("local", "github"), help="model registry backend")
    init.add_argument("--retrain-schedule", metavar="CRON", help="cron schedule (UTC)")
    init.add_argument("--retrain-mode", choices=("pull-request", "deploy"))
    init.add_argument(
        "--shards",
        metavar="N",
        help=(
            "check a folder of Parquet parts on N runners in parallel (data.shards): a matrix"
            " job per slice of the parts, then one job merges the profiles and decides"
        ),
    )
    init.add_argument(
        "--monitor",
        action="store_true",
        help="also write mlci-monitor.yml: production data and live metrics on a schedule",
    )
    init.add_argument(
        "--monitor-schedule", metavar="CRON", help="cron schedule of the monitor (UTC)"
    )
    init.add_argument(
        "--monitor-data-command",
        metavar="CMD",
        help="command that brings the production logs to the runner (monitor.data_command)",
    )
    init.add_argument("--python", metavar="X.Y", help="Python version of the workflows")
    init.add_argument("--default-branch", metavar="BRANCH")
    init.add_argument("--runs-on", metavar="LABELS", help="runner label(s), comma-separated")
    init.add_argument(
        "--action-ref",
        metavar="[OWNER/REPO@]SHA[#TAG]",
        help="pin mlci's action to this commit instead of the one recorded for this release",
    )


def _add_init_modes(init: argparse.ArgumentParser) -> None:
    """How init writes: --force, --dry-run or --check, and --yes."""
    mode = init.add_mutually_exclusive_group()
    mode.add_argument("--force", action="store_true", help="replace files that were changed")
    mode.add_argument("--dry-run", action="store_true", help="print what would be written")
    mode.add_argument(
        "--check",
        action="store_true",
        help="exit 1 when the files on disk differ from what this mlci would generate",
    )
    init.add_argument("-y", "--yes", action="store_true", help="take the defaults, never prompt")


# -- deploy -------------------------------------------------------------------------------


def _run_deploy(args: argparse.Namespace) -> int:
    from mlci.github.runtime import Runtime
    from mlci.pipelines.deploy import deploy

    outcome = deploy(
        _config(args),
        model=args.model,
        results_dir=_results_dir(args),
        backend=args.registry,
        runtime=Runtime(),
    )
    print(f"mlci deploy: {outcome.message}")
    return EXIT_OK


def _run_rollback(args: argparse.Namespace) -> int:
    from mlci.github.runtime import Runtime
    from mlci.pipelines.deploy import rollback

    outcome = rollback(
        _config(args),
        to=args.to,
        results_dir=_results_dir(args),
        backend=args.registry,
        runtime=Runtime(),
    )
    print(f"mlci rollback: {outcome.message}")
    return EXIT_OK


def _open_registry(args: argparse.Namespace) -> Any:
    from mlci.github.runtime import Runtime
    from mlci.registry import open_registry

    return open_registry(_config(args), backend=args.registry, runtime=Runtime())


def _run_registry_list(args: argparse.Namespace) -> int:
    from mlci.pipelines.deploy import registry_rows

    reg = _open_registry(args)
    rows = registry_rows(reg)
    if args.json:
        sys.stdout.write(jsonio.dumps(rows) + "\n")
        return EXIT_OK
    if not rows:
        print(f"registry {reg.describe()}: no versions yet; `mlci deploy` registers one")
        return EXIT_OK
    names = sorted({m for r in rows for m in r["metrics"]})
    head = ["version", "created", "commit", "blessed", "aliases", *names]
    table = [head]
    for r in rows:
        metrics = [
            f"{r['metrics'][m]:.4g}"
            if isinstance(r["metrics"].get(m), float)
            else str(r["metrics"].get(m, "-"))
            for m in names
        ]
        table.append(
            [
                f"v{r['version']}",
                r["created"][:19],
                (r["git_sha"] or "-")[:7],
                "yes" if r["blessed"] else "no",
                ",".join(r["aliases"]) or "-",
                *metrics,
            ]
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return EXIT_OK


def _run_registry_show(args: argparse.Namespace) -> int:
    from mlci.registry import resolve_version

    reg = _open_registry(args)
    found = resolve_version(reg, args.version)
    aliases = sorted(a for a, v in reg.state().aliases.items() if v == found.version)
    body = {
        "version": found.version,
        "aliases": aliases,
        "files": list(found.files),
        "location": found.location,
        "metadata": found.metadata,
    }
    sys.stdout.write(jsonio.dumps(body) + "\n")
    return EXIT_OK


def _run_registry_pull(args: argparse.Namespace) -> int:
    from mlci.registry import resolve_version

    reg = _open_registry(args)
    found = resolve_version(reg, args.version)
    dest = args.output or Path(f"model-v{found.version}")
    reg.download(found.version, dest)
    print(f"pulled v{found.version} ({', '.join(found.files)}) into {dest}")
    return EXIT_OK


def _run_serve(args: argparse.Namespace) -> int:
    import tempfile

    from mlci.serve.app import create_app, load_served_model, require_stack
    from mlci.serve.metrics import ServiceMetrics
    from mlci.serve.predlog import open_prediction_log
    from mlci.serve.server import run_server

    require_stack()
    cfg = _config(args) if args.config or Path("mlci.yaml").is_file() else None
    with tempfile.TemporaryDirectory(prefix="mlci-serve-") as tmp:
        if args.model is not None:
            served = load_served_model(
                args.model,
                trusted=bool(cfg and cfg.model.trusted),
                features=cfg.model.features if cfg else None,
                trusted_types=cfg.model.trusted_types if cfg else (),
            )
        else:
            from mlci.registry import resolve_version

            reg = _open_registry(args)
            found = resolve_version(reg, args.version or "production")
            folder = reg.download(found.version, Path(tmp) / f"v{found.version}")
            served = load_served_model(
                folder / (found.onnx_file or found.model_file),
                metadata=found.metadata,
                version=found.version,
                trusted=_config(args).model.trusted,
                trusted_types=_config(args).model.trusted_types,
            )
        metrics = ServiceMetrics(served.version, served.predictor.format, served.classes)
        predlog = open_prediction_log(served, cfg, log_dir=args.log_dir, on_drop=metrics.dropped)
        where = f"v{served.version}" if served.version else str(served.path)
        logging = f"; logging predictions to {predlog.settings.directory}" if predlog else ""
        print(
            f"mlci serve: {where} ({served.predictor.format}) on http://{args.host}:{args.port}"
            f"  (POST /predict, GET /health, GET /metadata, GET /metrics{logging}; ^C stops)",
            flush=True,
        )
        try:
            app = create_app(served, prediction_log=predlog, metrics=metrics)
            run_server(app, host=args.host, port=args.port)
        finally:
            if predlog is not None:
                predlog.close()
    return EXIT_OK


def _add_registry_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--registry",
        choices=("local", "github"),
        default=None,
        help="registry backend (default: registry.backend in mlci.yaml)",
    )


def _add_deploy_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    _add_deploy_parser(sub)
    _add_rollback_parser(sub)
    _add_registry_parsers(sub)
    _add_serve_parser(sub)


def _add_deploy_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dep = sub.add_parser(
        "deploy",
        help="register, smoke-test and deploy the blessed model; then move production",
        description=(
            "Check the blessing in model.json and that the model file is the one blessed;"
            " register it, export ONNX, smoke-test the prediction service, run the deploy"
            " step (deploy.command / deploy.webhook), then promote it to production."
            " Exit 1 when the model is not blessed or fails the smoke test."
        ),
    )
    _add_config_option(dep)
    _add_path_option(dep, "--model", help="model file (default: model.path)")
    _add_results_option(dep)
    _add_registry_option(dep)
    dep.set_defaults(handler=_run_deploy)


def _add_rollback_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rb = sub.add_parser(
        "rollback",
        help="move production back to the previous (or a named) blessed version",
        description="Move production back and run the deploy step for that version again.",
    )
    _add_config_option(rb)
    rb.add_argument(
        "--to",
        default=None,
        metavar="VERSION",
        help="version to return to (default: the previous blessed production)",
    )
    _add_results_option(rb)
    _add_registry_option(rb)
    rb.set_defaults(handler=_run_rollback)


def _add_registry_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    reg = sub.add_parser(
        "registry",
        help="list, show or pull registered model versions",
        description="Work with the model registry.",
    )
    reg_sub = reg.add_subparsers(dest="registry_command", metavar="COMMAND", required=True)
    lst = reg_sub.add_parser("list", help="every version with its metrics and aliases")
    lst.add_argument("--json", action="store_true", help="print JSON (the report's history data)")
    show = reg_sub.add_parser("show", help="print a version's metadata as JSON")
    show.add_argument("version", metavar="VERSION", help="number, tag (model-v3) or alias")
    pull = reg_sub.add_parser("pull", help="download a version's files")
    pull.add_argument("version", metavar="VERSION", help="number, tag (model-v3) or alias")
    _add_output_option(pull, "directory to write (default: ./model-vN)", metavar="DIR")
    for p, handler in (
        (lst, _run_registry_list),
        (show, _run_registry_show),
        (pull, _run_registry_pull),
    ):
        _add_config_option(p)
        _add_registry_option(p)
        p.set_defaults(handler=handler)


def _add_serve_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    srv = sub.add_parser(
        "serve",
        help="start the prediction service for a registry version or a model file",
        description=(
            "Serve POST /predict (JSON records or columns, Arrow IPC, Parquet), GET /health,"
            " GET /metadata and GET /metrics (Prometheus) with Starlette on uvicorn."
            " Default: the production version of the registry."
        ),
    )
    which = srv.add_mutually_exclusive_group()
    _add_path_option(which, "--model", help="a model file")
    which.add_argument(
        "--version",
        default=None,
        metavar="VERSION",
        help="a registry version or alias (default: production)",
    )
    srv.add_argument("--host", default="127.0.0.1", help="address (default: 127.0.0.1)")
    srv.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    _add_path_option(
        srv,
        "--log-dir",
        metavar="DIR",
        help="log every prediction to rolling Parquet files in DIR (default: serve.log_dir)",
    )
    _add_config_option(srv)
    _add_registry_option(srv)
    srv.set_defaults(handler=_run_serve)


# -- data ---------------------------------------------------------------------------------


def _data_config(path: Path | None) -> Any:
    """The config when one is given or ./mlci.yaml exists; None lets flags say everything."""
    from mlci.config import CONFIG_FILE, find_config, load_config

    if path is None and not Path(CONFIG_FILE).exists():
        return None
    return load_config(find_config(path))


def _run_schema_infer(args: argparse.Namespace) -> int:
    from mlci.pipelines.schema import infer_schema_file

    done = infer_schema_file(
        args.data,
        config=_data_config(args.config),
        output=args.output,
        update=args.update,
        force=args.force,
        max_domain=args.max_domain,
        margin=args.margin,
    )
    if done.output is None:
        sys.stdout.write(done.text)
        return EXIT_OK
    print(f"wrote {done.output} ({done.columns} columns from {done.rows} rows of {args.data})")
    for name, why in done.unsupported:
        print(f"  {name}: not checked: {why}")
    return EXIT_OK


def _run_profile(args: argparse.Namespace) -> int:
    from mlci.data.profile import load_profile, merge_profiles, profile_path, write_profile
    from mlci.errors import InputError

    paths: list[Path] = args.paths
    if paths[0] == Path("merge"):
        shards = paths[1:]
        if not shards or args.output is None:
            raise InputError(
                "profile merge: give the shard profiles and an output, e.g."
                " `mlci profile merge a.json b.json -o merged.json`"
            )
        profile = merge_profiles(load_profile(p) for p in shards)
        write_profile(profile, args.output)
        print(f"wrote {args.output} ({len(shards)} profiles, {profile.rows} rows)")
        return EXIT_OK
    if len(paths) != 1:
        raise InputError(
            "profile: give one data file or directory (to combine profiles use"
            " `mlci profile merge PROFILE... -o PATH`)"
        )
    cfg = _data_config(args.config)
    chunk_rows = cfg.data.chunk_rows if cfg else 250_000
    # Keys are found here too, so a schema inferred from the stored profile gives them
    # uniqueness, not a range.
    profile = profile_path(paths[0], chunk_rows=chunk_rows, track_unique=True)
    output = args.output or Path("profile.json")
    write_profile(profile, output)
    print(f"wrote {output} ({profile.rows} rows, {len(profile.columns)} columns)")
    return EXIT_OK


def _run_validate_data(args: argparse.Namespace) -> int:
    from mlci.error_handler import document_exit_code
    from mlci.pipelines.validate_data import validate_data

    return document_exit_code(
        validate_data(
            _data_config(args.config),
            current=args.current,
            reference=args.reference,
            reference_profile=args.reference_profile,
            schema=args.schema,
            drift=not args.no_drift,
            results_dir=args.results,
            shard=args.shard,
            shards_from=args.merge_shards,
            current_profile=args.current_profile,
        )
    )


def _shard_arg(text: str) -> tuple[int, int]:
    index, sep, count = text.partition("/")
    if not sep or not index.isdigit() or not count.isdigit() or not 1 <= int(index) <= int(count):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a shard; write I/N with 1 <= I <= N, e.g. --shard 2/3"
        )
    return int(index), int(count)


def _add_data_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    _add_schema_parsers(sub)
    _add_profile_parser(sub)
    _add_validate_data_parser(sub)


def _add_schema_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    schema = sub.add_parser(
        "schema",
        help="infer the data schema (mlci/schema.yaml)",
        description="Work with the data schema.",
    )
    schema_sub = schema.add_subparsers(dest="schema_command", metavar="COMMAND", required=True)
    infer = schema_sub.add_parser(
        "infer",
        help="write a commented, editable schema from reference data",
        description=(
            "Infer a schema (types, nulls, ranges, domains, keys, row bounds) from reference"
            " data or a profile, and write it as commented YAML to edit."
        ),
    )
    infer.add_argument("data", type=Path, metavar="DATA", help="reference data or a profile .json")
    _add_output_option(
        infer,
        "schema file (default: data.schema of mlci.yaml, else mlci/schema.yaml);"
        " - writes to standard output",
    )
    infer.add_argument(
        "--update",
        action="store_true",
        help="re-infer an existing schema file, keeping the edits made to it by hand",
    )
    infer.add_argument(
        "--force",
        action="store_true",
        help="replace an existing schema file (its edits are lost; see --update)",
    )
    infer.add_argument(
        "--max-domain",
        type=int,
        default=100,
        metavar="N",
        help="text columns with at most N distinct values get a domain (default: 100)",
    )
    infer.add_argument(
        "--margin",
        type=float,
        default=0.1,
        metavar="FRACTION",
        help="widen number ranges by this share of their width on each side (default: 0.1)",
    )
    _add_config_option(infer)
    infer.set_defaults(handler=_run_schema_infer)


def _add_profile_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    profile = sub.add_parser(
        "profile",
        help="compute a mergeable data profile (for drift), or merge shard profiles",
        description=(
            "`mlci profile DATA [-o PATH]` writes the statistics drift needs;"
            " `mlci profile merge PROFILE... -o PATH` combines profiles of shards."
        ),
        usage="mlci profile DATA [-o PATH] | mlci profile merge PROFILE... -o PATH",
    )
    profile.add_argument("paths", nargs="+", type=Path, metavar="DATA", help=argparse.SUPPRESS)
    _add_output_option(profile, "profile file to write (default: profile.json)")
    _add_config_option(profile)
    profile.set_defaults(handler=_run_profile)


def _add_validate_data_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    validate = sub.add_parser(
        "validate-data",
        help="check current data against the schema and the reference (drift)",
        description=(
            "Check the current data against the schema and for drift against the reference;"
            " write DIR/data.json. Exit 1 when any finding has error severity."
        ),
    )
    _add_config_option(validate)
    _add_path_option(validate, "--current", help="data to validate (default: data.current)")
    ref = validate.add_mutually_exclusive_group()
    _add_path_option(ref, "--reference", help="reference data or profile (default: data.reference)")
    _add_path_option(
        ref,
        "--reference-profile",
        help="stored reference profile (the reference data is not read)",
    )
    _add_path_option(validate, "--schema", help="schema file (default: data.schema)")
    validate.add_argument("--no-drift", action="store_true", help="run the schema checks only")
    split = validate.add_mutually_exclusive_group()
    split.add_argument(
        "--shard",
        type=_shard_arg,
        default=None,
        metavar="I/N",
        help=(
            "check only shard I of N of a folder of Parquet parts (a contiguous run of the"
            " sorted parts) and write its partial results to DIR/shard-I-of-N/; no verdict"
        ),
    )
    split.add_argument(
        "--merge-shards",
        nargs="+",
        type=Path,
        default=None,
        metavar="DIR",
        help="give the verdict from every shard's partial results (folders holding them)",
    )
    _add_path_option(
        validate,
        "--current-profile",
        help="with --merge-shards: the merged profile of the current data (mlci profile merge)",
    )
    _add_results_option(validate)
    validate.set_defaults(handler=_run_validate_data)


# -- model ------------------------------------------------------------------------------


def _run_validate_model(args: argparse.Namespace) -> int:
    from mlci.error_handler import document_exit_code
    from mlci.pipelines.validate_model import validate_model

    return document_exit_code(
        validate_model(
            _config(args),
            model=args.model,
            baseline=args.baseline,
            eval_data=args.eval_data,
            target=args.target,
            results_dir=args.results,
            backend=args.registry,
        )
    )


def _run_export(args: argparse.Namespace) -> int:
    from mlci.pipelines.validate_model import export_model

    return export_model(args.model, sample=args.sample, output=args.output)


def _add_model_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    validate = sub.add_parser(
        "validate-model",
        help="evaluate the candidate against production, apply the gates, write model.json",
        description=(
            "Evaluate the candidate and the baseline (production) model on the same eval"
            " rows, bootstrap the metric deltas, check ONNX parity and budgets, apply the"
            " gates and write DIR/model.json. Exit 0 when blessed, 1 when not."
        ),
    )
    _add_config_option(validate)
    _add_path_option(validate, "--model", help="candidate model file (default: model.path)")
    validate.add_argument(
        "--baseline",
        default=None,
        metavar="PATH|registry|none",
        help="production model: a model file, a stored model.json, registry or none"
        " (default: model.baseline)",
    )
    _add_registry_option(validate)
    _add_path_option(validate, "--eval-data", help="labelled eval data (default: data.eval)")
    validate.add_argument(
        "--target", default=None, metavar="COLUMN", help="label column (default: data.target)"
    )
    _add_results_option(validate)
    validate.set_defaults(handler=_run_validate_model)
    export = sub.add_parser(
        "export",
        help="convert a scikit-learn model to ONNX and check parity",
        description=(
            "Convert a scikit-learn model (skops, or trusted joblib/pickle) to ONNX with"
            " skl2onnx and check parity with the original on sample data. Exit 1 when"
            " parity fails or the estimator cannot be converted."
        ),
    )
    export.add_argument("model", type=Path, metavar="MODEL", help="model file to convert")
    export.add_argument(
        "--sample",
        type=Path,
        required=True,
        metavar="DATA",
        help="rows with the model's features to check parity on (e.g. the eval data)",
    )
    _add_output_option(export, "ONNX file to write (default: MODEL with the .onnx suffix)")
    export.set_defaults(handler=_run_export)


# -- retrain -------------------------------------------------------------------------------


def _run_retrain(args: argparse.Namespace) -> int:
    from mlci.github.runtime import Runtime
    from mlci.pipelines.retrain import retrain

    return retrain(
        _config(args),
        results_dir=_results_dir(args),
        runtime=Runtime(),
        dry_run=args.dry_run,
        backend=args.registry,
    )


def _run_monitor(args: argparse.Namespace) -> int:
    from mlci.github.runtime import Runtime
    from mlci.pipelines.monitor import monitor

    return monitor(
        _config(args),
        current=args.current,
        results_dir=_results_dir(args),
        runtime=Runtime(),
        backend=args.registry,
        since=args.since,
    )


def _run_test(args: argparse.Namespace) -> int:
    from mlci.github.runtime import Runtime
    from mlci.pipelines.project_tests import run_project_tests

    return run_project_tests(_config(args), results_dir=args.results, runtime=Runtime())


def _add_test_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    test = sub.add_parser(
        "test",
        help="run the project's own tests (ci.test_command) and write tests.json",
        description=(
            "Run ci.test_command in the project (before training, as mlci-pr.yml does) and"
            " write DIR/tests.json with its exit code and, when it writes JUnit XML"
            " (--junitxml=PATH or ci.junit), the counts and failing test names."
            " Exit 1 when a test failed."
        ),
    )
    _add_config_option(test)
    _add_results_option(test)
    test.set_defaults(handler=_run_test)


def _add_retrain_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    retrain = sub.add_parser(
        "retrain",
        help="retrain on fresh data when the policy says so; propose or deploy a blessed model",
        description=(
            "Find fresh data (retrain.data or retrain.data_command), check it against the"
            " reference, decide by retrain.policy (always, on-drift, max-age), run"
            " model.train_command, compare challenger with champion through the model gates,"
            " and when blessed open or update the retrain pull request (mode: pull-request)"
            " or deploy (mode: deploy). Exit 1 when the data or the challenger fails."
        ),
    )
    _add_config_option(retrain)
    _add_results_option(retrain)
    retrain.add_argument(
        "--dry-run",
        action="store_true",
        help="decide, train and compare, but open no pull request and deploy nothing",
    )
    _add_registry_option(retrain)
    retrain.set_defaults(handler=_run_retrain)
    mon = sub.add_parser(
        "monitor",
        help="compare production data with the reference; open, update or close issues",
        description=(
            "Compare production data (monitor.current), its predictions and delayed labels"
            " with the training reference: drift per column, prediction drift and live"
            " metrics against the gates. One GitHub issue per problem, updated while it"
            " persists and closed when healthy; optionally dispatch mlci-retrain.yml and roll"
            " production back. Exit 1 when a problem of error severity was found."
        ),
    )
    _add_config_option(mon)
    _add_path_option(
        mon,
        "--current",
        help=(
            "production data: a data file, or the folder of Parquet parts mlci serve"
            " --log-dir writes (default: monitor.current, else data.current)"
        ),
    )
    mon.add_argument(
        "--since",
        default=None,
        metavar="WINDOW",
        help="only logged rows of this recent window, e.g. 12h, 7d, 2w (prediction log only)",
    )
    _add_results_option(mon)
    _add_registry_option(mon)
    mon.set_defaults(handler=_run_monitor)


# -- report -------------------------------------------------------------------------------


def _run_report(args: argparse.Namespace) -> int:
    from mlci.github.runtime import Runtime
    from mlci.pipelines.report import report

    runtime = Runtime()
    outcome = report(
        results_dir=_results_dir(args),
        output_dir=args.output_dir,
        post=args.post,
        check_run=args.check_run or (args.post and not args.no_check_run),
        pr=args.pr,
        repo=args.repo,
        sha=args.sha,
        key=args.key,
        author=args.comment_author,
        registry_tag_prefix=args.registry_tag_prefix,
        runtime=runtime,
    )
    if not (args.post or args.check_run or args.quiet):
        sys.stdout.write(outcome.markdown)
    if outcome.comment_url:
        print(f"mlci: {outcome.comment_action} comment {outcome.comment_url}")
    if outcome.check_run_url:
        print(f"mlci: created check run {outcome.check_run_url}")
    for note in outcome.notes:
        runtime.warning(note)
    print(
        f"mlci: report ({outcome.state}) written to {outcome.markdown_path} and"
        f" {outcome.html_path}",
        file=sys.stderr,
    )
    return EXIT_OK


def _add_report_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rep = sub.add_parser(
        "report",
        help="render the results as Markdown/HTML; post the sticky PR comment and a check run",
        description=(
            "Render data.json and model.json from the results directory as Markdown"
            " (report.md, printed unless --post/--check-run) and self-contained HTML"
            " (report.html), append it to the job summary on Actions, and with --post"
            " create or update mlci's one comment on the pull request. Needs neither"
            " pandas nor scikit-learn. Exit 0 whatever the verdict (validation steps fail"
            " the build); 2 for missing or invalid results or a GitHub error."
        ),
    )
    _add_results_option(rep)
    _add_path_option(
        rep,
        "--output-dir",
        metavar="DIR",
        help="where report.md and report.html go (default: the results directory)",
    )
    rep.add_argument(
        "--post",
        action="store_true",
        help="create or update the sticky PR comment and a check run (GITHUB_TOKEN with"
        " pull-requests: write and checks: write)",
    )
    rep.add_argument(
        "--check-run",
        action="store_true",
        help="create a check run with annotations on the commit (checks: write); --post"
        " does this too unless --no-check-run",
    )
    rep.add_argument(
        "--no-check-run",
        action="store_true",
        help="with --post, post the comment only",
    )
    rep.add_argument(
        "--pr",
        type=int,
        default=None,
        metavar="N",
        help="pull request number (default: from the event or the commit)",
    )
    rep.add_argument(
        "--repo", default=None, metavar="OWNER/NAME", help="repository (default: GITHUB_REPOSITORY)"
    )
    rep.add_argument("--sha", default=None, help="commit for the check run (default: the event's)")
    rep.add_argument(
        "--key",
        default="default",
        help="report key: one comment per key (matrix jobs, several models)",
    )
    rep.add_argument(
        "--comment-author",
        default=None,
        metavar="LOGIN",
        help="login the token posts as (default: github-actions[bot]); only its comments are"
        " updated",
    )
    rep.add_argument(
        "--registry-tag-prefix",
        default=None,
        metavar="PREFIX",
        help="with --post in the comment job (a workflow_run event): append the pull request's"
        " candidate to the experiment history of the github registry with this version tag"
        " prefix (registry.tag_prefix, e.g. model-v; contents: write); default: record none",
    )
    rep.add_argument("-q", "--quiet", action="store_true", help="do not print the Markdown")
    rep.set_defaults(handler=_run_report)


# -- run and demo -----------------------------------------------------------------------


def _run_run(args: argparse.Namespace) -> int:
    from mlci.github.runtime import Runtime
    from mlci.pipelines.run import run_pipeline

    code, _ = run_pipeline(
        args.pipeline, config_path=args.config, results_dir=args.results, runtime=Runtime()
    )
    return code


def _run_demo(args: argparse.Namespace) -> int:
    from mlci.github.runtime import Runtime
    from mlci.pipelines.demo import run_demo

    return run_demo(directory=args.dir, runtime=Runtime(), force=args.force)


def _add_run_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = sub.add_parser(
        "run",
        help="run a workflow's pipeline locally (pr, deploy, retrain, monitor)",
        description=(
            "Run the steps of a generated workflow on this machine, with the same mlci"
            " commands, results files and report, without GitHub: the report is printed"
            " and written as Markdown and HTML instead of posted, and the registry is the"
            " local one. Exit code: the worst of the steps."
        ),
    )
    run.add_argument(
        "pipeline", choices=("pr", "deploy", "retrain", "monitor"), help="which workflow to run"
    )
    _add_config_option(run)
    _add_results_option(run)
    run.set_defaults(handler=_run_run)
    demo = sub.add_parser(
        "demo",
        help="play the whole loop on the bundled example (no network, no GitHub)",
        description=(
            "Create a small real project from the bundled example, train and deploy the"
            " first model to the local registry, then play two pull requests: one that"
            " improves the model (blessed) and one with drifted data and a worse model"
            " (blocked). Prints each report and where the HTML is."
        ),
    )
    demo.add_argument(
        "--dir",
        type=Path,
        default=Path("mlci-demo"),
        help="new or empty directory to play in (default: ./mlci-demo)",
    )
    demo.add_argument(
        "--force",
        action="store_true",
        help=(
            "play again in a directory that holds an earlier or half-finished demo: its"
            " files are replaced, nothing else is touched"
        ),
    )
    demo.set_defaults(handler=_run_demo)


# -- parser -------------------------------------------------------------------------------


def _run_experiments(args: argparse.Namespace) -> int:
    from mlci.pipelines import experiments

    config = _config(args)
    if args.experiments_command == "show":
        if args.packages:
            text = experiments.packages_of(config, args.id, backend=args.registry)
        else:
            text = experiments.show_experiment(config, args.id, backend=args.registry)
    else:
        text = experiments.list_experiments(
            config, last=args.last, pr=args.pr, as_json=args.json, backend=args.registry
        )
    sys.stdout.write(text + "\n")
    return EXIT_OK


def _add_experiments_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    exp = sub.add_parser(
        "experiments",
        help="every validated candidate, best first; show one to reproduce it",
        description=(
            "List the experiment history that validate-model records with the registry"
            " (the local folder, or one release asset of the github registry; best first by"
            " the first gated metric), or show one experiment"
            " with what reproduces it."
        ),
    )
    _add_config_option(exp)
    _add_registry_option(exp)
    exp.add_argument("--last", type=int, default=None, metavar="N", help="only the last N")
    exp.add_argument("--pr", type=int, default=None, metavar="N", help="only pull request N")
    exp.add_argument("--json", action="store_true", help="print JSON")
    exp_sub = exp.add_subparsers(dest="experiments_command", metavar="COMMAND")
    show = exp_sub.add_parser("show", help="what reproduces one experiment")
    show.add_argument("id", metavar="ID", help="experiment id (a prefix is enough)")
    show.add_argument(
        "--packages", action="store_true", help="print the recorded package list (name==version)"
    )
    # Also accepted after `show`; SUPPRESS keeps a value given before `show`.
    show.add_argument("--config", type=Path, default=argparse.SUPPRESS, metavar="PATH")
    show.add_argument("--registry", choices=("local", "github"), default=argparse.SUPPRESS)
    exp.set_defaults(handler=_run_experiments)


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
    _add_deploy_parsers(sub)
    _add_model_parsers(sub)
    _add_data_parsers(sub)
    _add_test_parser(sub)
    _add_retrain_parsers(sub)
    _add_report_parsers(sub)
    _add_run_parsers(sub)
    _add_experiments_parsers(sub)
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
