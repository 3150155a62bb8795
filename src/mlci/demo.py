"""`mlci demo`: the whole loop on the bundled example, with no network and no GitHub.

In a fresh directory it copies ``examples/breast-cancer``, writes its data from
scikit-learn's bundled data set, infers the schema, trains and deploys the first
model to the local registry, then plays two pull requests through `mlci run pr`:
one that improves the model (blessed, then merged and deployed), and one that
brings drifted data and a worse model (blocked, with the data findings).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from mlci.errors import EXIT_FAILED, EXIT_OK, InputError
from mlci.github.runtime import Runtime
from mlci.resources import shipped_dir

__all__ = ["DEFAULT_DIR", "run_demo"]

DEFAULT_DIR = Path("mlci-demo")
EXAMPLE = "breast-cancer"
_LEAVE_OUT = {"data", "mlci-results", ".mlci", "model.skops", "model.onnx", "__pycache__"}

IMPROVED = {"C": 1.0}
WORSE = {"C": 0.0003}


def _python(script: str, *args: str, cwd: Path) -> None:
    proc = subprocess.run(
        [sys.executable, script, *args], cwd=cwd, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise InputError(
            f"{cwd / script} failed (exit {proc.returncode}): {proc.stderr.strip()[-2000:]};"
            " check that scikit-learn, pandas and skops are installed"
        )


def _copy_example(target: Path) -> None:
    if target.exists() and any(target.iterdir()):
        raise InputError(
            f"{target}: the directory exists and is not empty; the demo never writes into"
            " existing files: pass --dir NEW_DIR or remove it"
        )
    source = shipped_dir("examples") / EXAMPLE
    shutil.copytree(
        source,
        target,
        ignore=lambda _d, names: [n for n in names if n in _LEAVE_OUT],
        dirs_exist_ok=True,
    )


def run_demo(
    *,
    directory: Path,
    runtime: Runtime,
    cli: Callable[[Sequence[str]], int] | None = None,
) -> int:
    """Play the demo in ``directory`` (created; must be new or empty).

    Returns:
        0 when every step behaved as the story says (the second pull request is
        meant to be blocked), 1 otherwise.
    """
    if cli is None:
        from mlci.cli import main

        cli = main
    from mlci.pipelines.run import run_pipeline

    start = time.perf_counter()
    directory = directory.resolve()
    config = directory / "mlci.yaml"
    results = directory / "mlci-results"
    _copy_example(directory)
    runtime.info(f"mlci demo in {directory}\n")

    with runtime.group("main branch: prepare data, infer the schema, train and deploy v1"):
        _python("prepare_data.py", cwd=directory)
        if (
            cli(
                [
                    "schema",
                    "infer",
                    str(directory / "data" / "reference.csv"),
                    "-o",
                    str(directory / "mlci" / "schema.yaml"),
                    "--margin",
                    "0.25",
                ]
            )
            != EXIT_OK
        ):
            return EXIT_FAILED
        _python("train.py", cwd=directory)
        first = cli(
            [
                "validate-model",
                "--config",
                str(config),
                "--results",
                str(results),
                "--baseline",
                "none",
            ]
        )
        deployed = cli(
            ["deploy", "--config", str(config), "--results", str(results), "--registry", "local"]
        )
        if first != EXIT_OK or deployed != EXIT_OK:
            runtime.error("the first model was not blessed and deployed; the demo stops here")
            return EXIT_FAILED

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
        (directory / "params.json").write_text(json.dumps(params) + "\n")
        if drift:
            _python("prepare_data.py", "--drift", cwd=directory)
        pr_results = directory / f"mlci-results-pr{number}"
        with runtime.group(title):
            code, _ = run_pipeline(
                "pr", config_path=config, results_dir=pr_results, runtime=runtime, cli=cli
            )
            story.append((title, code, expected))
            html = pr_results / "report.html"
            runtime.info(f"\nfull report: {html}\n")
            if code == EXIT_OK and number == 1:
                runtime.info("merged: deploying the blessed model")
                cli(
                    [
                        "deploy",
                        "--config",
                        str(config),
                        "--results",
                        str(pr_results),
                        "--registry",
                        "local",
                    ]
                )

    runtime.info("summary")
    ok = True
    for title, code, expected in story:
        verdict = {0: "blessed", 1: "blocked"}.get(code, f"error (exit {code})")
        as_expected = code == expected
        ok = ok and as_expected
        runtime.info(f"  {title}: {verdict}{'' if as_expected else '  (unexpected!)'}")
    runtime.info(f"demo finished in {time.perf_counter() - start:.1f} s; files in {directory}")
    return EXIT_OK if ok else EXIT_FAILED
