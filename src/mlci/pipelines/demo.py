"""`mlci demo`: the whole loop on the bundled example, with no network and no GitHub.

In a fresh directory it copies ``examples/breast-cancer``, writes its data from
scikit-learn's bundled data set, infers the schema, trains and deploys the first
model to the local registry, then plays two pull requests through `mlci run pr`:
one that improves the model (blessed, then merged and deployed), and one that
brings drifted data and a worse model (blocked, with the data findings).
"""

from __future__ import annotations

import shutil
import sys
import time
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from mlci import jsonio
from mlci.errors import EXIT_FAILED, EXIT_OK, InputError
from mlci.github.runtime import Runtime
from mlci.resources import shipped_dir

if TYPE_CHECKING:
    from mlci.config import Config

__all__ = ["DEFAULT_DIR", "run_demo"]

DEFAULT_DIR = Path("mlci-demo")
EXAMPLE = "breast-cancer"
_LEAVE_OUT = {"data", "mlci-results", ".mlci", "model.skops", "model.onnx", "__pycache__"}
#: What the demo writes besides the example's files (replaced by ``--force``).
_WRITES = {"data", "mlci", "mlci-results", "mlci-results-pr*", ".mlci", "model.skops", "model.onnx"}

IMPROVED = {"C": 1.0}
WORSE = {"C": 0.0003}


def _python(script: str, *args: str, cwd: Path) -> None:
    from mlci.proc import run_captured

    proc = run_captured([sys.executable, script, *args], cwd=cwd)
    if proc.code != 0:
        raise InputError(
            f"{cwd / script} failed (exit {proc.code}): {proc.stderr.strip()[-2000:]};"
            " check that scikit-learn, pandas and skops are installed"
        )


def _demo_files(source: Path) -> set[str]:
    """The top-level names the demo writes into its directory."""
    return {p.name for p in source.iterdir() if p.name not in _LEAVE_OUT} | _WRITES


def _copy_example(target: Path, *, force: bool) -> None:
    source = shipped_dir("examples") / EXAMPLE
    if target.exists() and not target.is_dir():
        raise InputError(f"{target}: not a directory; pass --dir NEW_DIR")
    if target.exists() and any(target.iterdir()):
        if not force:
            raise InputError(
                f"{target}: the directory exists and is not empty; the demo never writes into"
                f" existing files: pass --force to play it again there (`mlci demo --dir"
                f" {_quoted(target)} --force` replaces only the demo's own files), or"
                " --dir NEW_DIR"
            )
        for name in sorted(_demo_files(source)):
            for path in target.glob(name):
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
    shutil.copytree(
        source,
        target,
        ignore=lambda _d, names: [n for n in names if n in _LEAVE_OUT],
        dirs_exist_ok=True,
    )


def _quoted(path: Path) -> str:
    import shlex

    return shlex.quote(str(path))


def _deploy_problem(results: Path, code: int) -> str:
    """What went wrong in a deploy that exited ``code``, from its ``deploy.json``."""
    from mlci.errors import MlciError
    from mlci.results import DeployResults, read_as

    try:
        doc = read_as(DeployResults, results / "deploy.json")
    except (MlciError, OSError):
        return f"the deploy failed (exit {code}); see the error above"
    registered = f"registered as v{doc.version}" if doc.version else "not registered"
    smoke = next((f for f in doc.findings if f.check == "smoke_test"), None)
    if smoke is not None:
        return f"it was blessed and {registered}, but its smoke test failed: {smoke.message}"
    errors = [f.message for f in doc.findings if f.severity == "error"]
    reason = "; ".join(errors) or f"status {doc.status}, exit {code}"
    return f"it was blessed and {registered}, but the deploy failed: {reason}"


def _blessing_reason(results: Path) -> str:
    from mlci.errors import MlciError
    from mlci.results import read_model_results

    try:
        blessing = read_model_results(results / "model.json").blessing
    except (MlciError, OSError):
        return "see the error above"
    return (blessing.reason if blessing is not None else None) or "see the report above"


def run_demo(
    *,
    directory: Path,
    runtime: Runtime,
    force: bool = False,
) -> int:
    """Play the demo in ``directory`` (created; must be new or empty, unless ``force``).

    With ``force`` a directory that holds an earlier (or half-finished) demo is played
    again: the demo's own files are replaced, anything else in it is left alone.

    Returns:
        0 when every step behaved as the story says (the second pull request is
        meant to be blocked), 1 otherwise.
    """
    from mlci.config import load_config

    start = time.perf_counter()
    directory = directory.resolve()
    _copy_example(directory, force=force)
    runtime.info(f"mlci demo in {directory}\n")
    again = f"`mlci demo --dir {_quoted(directory)} --force` plays it again from the start"
    with runtime.group("main branch: prepare data, infer the schema, train and deploy v1"):
        _python("prepare_data.py", cwd=directory)
        cfg = load_config(directory / "mlci.yaml")
        if not _first_model(cfg, directory, runtime, again):
            return EXIT_FAILED
    story = _pull_requests(cfg, directory, runtime, again)
    ok = _tell(story, runtime)
    runtime.info(f"demo finished in {time.perf_counter() - start:.1f} s; files in {directory}")
    return EXIT_OK if ok else EXIT_FAILED


def _first_model(cfg: Config, directory: Path, runtime: Runtime, again: str) -> bool:
    """Infer the schema, train, bless and deploy v1 (False, said, when a step fails)."""
    from mlci.error_handler import document_exit_code, run_guarded
    from mlci.pipelines.run import deploy_locally
    from mlci.pipelines.schema import infer_schema_file
    from mlci.pipelines.validate_model import validate_model

    results = directory / "mlci-results"
    schema = infer_schema_file(
        directory / "data" / "reference.csv",
        config=cfg,
        output=directory / "mlci" / "schema.yaml",
        margin=0.25,
    )
    runtime.info(f"wrote {schema.output} ({schema.columns} columns from {schema.rows} rows)")
    _python("train.py", cwd=directory)
    first = run_guarded(
        lambda: document_exit_code(
            validate_model(cfg, results_dir=results, baseline="none", runtime=runtime)
        ),
        runtime,
    )
    if first != EXIT_OK:
        problem = (
            f"the first model was not blessed: {_blessing_reason(results)}"
            if first == EXIT_FAILED
            else f"validating the first model failed (exit {first}); see the error above"
        )
        runtime.error(f"{problem}; the demo stops here; {again}")
        return False
    deployed = run_guarded(lambda: deploy_locally(cfg, results, runtime), runtime)
    if deployed != EXIT_OK:
        problem = _deploy_problem(results, deployed)
        runtime.error(f"the first model: {problem}; the demo stops here; {again}")
        return False
    return True


def _pull_requests(
    cfg: Config, directory: Path, runtime: Runtime, again: str
) -> list[tuple[str, int, int]]:
    """Play the two pull requests (the first is merged and deployed): (title, got, expected)."""
    from mlci.error_handler import run_guarded
    from mlci.pipelines.run import deploy_locally, run_pipeline

    story: list[tuple[str, int, int]] = []
    for number, (title, params, drift, expected) in enumerate(
        (
            ("pull request #1: weaker regularization (C 0.002 -> 1.0)", IMPROVED, False, EXIT_OK),
            (
                "pull request #2: a new data source and an over-regularized model (C 0.0003)",
                WORSE,
                True,
                EXIT_FAILED,
            ),
        ),
        start=1,
    ):
        jsonio.write_json(directory / "params.json", params, indent=None)
        if drift:
            _python("prepare_data.py", "--drift", cwd=directory)
        pr_results = directory / f"mlci-results-pr{number}"
        with runtime.group(title):
            code, _ = run_pipeline(
                "pr", config_path=directory / "mlci.yaml", results_dir=pr_results, runtime=runtime
            )
            story.append((title, code, expected))
            html = pr_results / "report.html"
            runtime.info(f"\nfull report: {html}\n")
            if code == EXIT_OK and number == 1:
                runtime.info("merged: deploying the blessed model")
                deployed = run_guarded(partial(deploy_locally, cfg, pr_results, runtime), runtime)
                if deployed != EXIT_OK:
                    problem = _deploy_problem(pr_results, deployed)
                    runtime.error(f"pull request #1's model: {problem}; {again}")
                    story.append(("deploy of pull request #1", deployed, EXIT_OK))
    return story


def _tell(story: list[tuple[str, int, int]], runtime: Runtime) -> bool:
    """Print the summary; True when every step behaved as the story says."""
    runtime.info("summary")
    ok = True
    for title, code, expected in story:
        verdict = {0: "blessed", 1: "blocked"}.get(code, f"error (exit {code})")
        if title.startswith("deploy"):
            verdict = "deployed" if code == EXIT_OK else f"failed (exit {code})"
        as_expected = code == expected
        ok = ok and as_expected
        runtime.info(f"  {title}: {verdict}{'' if as_expected else '  (unexpected!)'}")
    return ok
