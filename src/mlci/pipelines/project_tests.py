"""`mlci test`: run the project's own tests (``ci.test_command``) and record how they ended.

The command runs before training in ``mlci-pr.yml`` and in ``mlci run pr``; a
failing test fails the check like a failed gate, and the report says "tests
failed" first. When the command writes JUnit XML (``--junitxml=PATH``, or the file
``ci.junit`` names), ``tests.json`` carries the counts and the names of failing
tests, cut and capped: the names come from the project's code and are rendered as
untrusted text.
"""

from __future__ import annotations

import re
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlci.config import Config
from mlci.errors import EXIT_FAILED, EXIT_OK, InputError
from mlci.github.runtime import Runtime
from mlci.results import DEFAULT_RESULTS_DIR, Finding, make_document, write_results

__all__ = ["JUnit", "read_junit", "run_project_tests"]

#: Failing test names kept in tests.json (the rest are counted).
MAX_FAILING = 20
#: Characters kept of a test name or a failure message.
MAX_NAME = 200
#: A JUnit file larger than this is not read (counts unknown; the exit code still rules).
MAX_JUNIT_BYTES = 20 * 1024 * 1024
_JUNIT_FLAG = re.compile(r"^--junit-?xml(?:=(?P<path>.+))?$")


@dataclass
class JUnit:
    """Counts and failing tests read from a JUnit XML file."""

    tests: int = 0
    failures: int = 0
    errors: int = 0
    skipped: int = 0
    failing: list[tuple[str, str]] = field(default_factory=list)
    failing_total: int = 0


def _cut(text: str, limit: int = MAX_NAME) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def junit_path(cfg: Config) -> Path | None:
    """``ci.junit``, else the path of a ``--junitxml`` option in the test command."""
    if cfg.ci.junit:
        return cfg.resolve(cfg.ci.junit)
    try:
        words = shlex.split(cfg.ci.test_command or "")
    except ValueError:
        return None
    for i, word in enumerate(words):
        m = _JUNIT_FLAG.match(word)
        if m:
            value = m.group("path") or (words[i + 1] if i + 1 < len(words) else None)
            return cfg.resolve(value) if value else None
    return None


def read_junit(path: Path) -> JUnit:
    """Counts and failing tests of a JUnit XML file (pytest's, or any runner's).

    Raises:
        InputError: when the file is too large or not JUnit XML.
    """
    import xml.etree.ElementTree as ET

    if path.stat().st_size > MAX_JUNIT_BYTES:
        raise InputError(
            f"{path}: {path.stat().st_size} bytes of JUnit XML, more than"
            f" {MAX_JUNIT_BYTES // (1024 * 1024)} MiB; write a smaller report"
        )
    try:
        root = ET.parse(path).getroot()  # noqa: S314 - the PR job's own file; size-bounded
    except ET.ParseError as exc:
        raise InputError(f"{path}: not JUnit XML ({exc}); check ci.junit") from None
    out = JUnit()
    for case in root.iter("testcase"):
        out.tests += 1
        name = "::".join(p for p in (case.get("classname"), case.get("name")) if p)
        for tag in ("failure", "error"):
            problem = case.find(tag)
            if problem is not None:
                if tag == "failure":
                    out.failures += 1
                else:
                    out.errors += 1
                out.failing_total += 1
                if len(out.failing) < MAX_FAILING:
                    out.failing.append(
                        (_cut(name or "(unnamed test)"), _cut(problem.get("message") or tag))
                    )
                break
        else:
            if case.find("skipped") is not None:
                out.skipped += 1
    return out


def run_project_tests(
    cfg: Config, *, results_dir: Path | None = None, runtime: Runtime | None = None
) -> int:
    """Run ``ci.test_command`` in the project and write ``tests.json``.

    Returns:
        0 when the tests passed, 1 when they failed (or timed out).

    Raises:
        InputError: when no test command is configured, or it cannot start.
    """
    rt = runtime or Runtime()
    command = cfg.ci.test_command
    if not command:
        raise InputError(
            f"{cfg.where('ci')}: ci.test_command is not set; add e.g."
            " `ci: {test_command: python -m pytest}` to mlci.yaml"
        )
    junit = junit_path(cfg)
    if junit is not None and junit.is_file():
        junit.unlink()  # never read a stale report of an earlier run
    start = time.perf_counter()
    code = _run(cfg, command)
    seconds = time.perf_counter() - start
    counts = read_junit(junit) if junit is not None and junit.is_file() else None
    passed = code == 0
    doc = make_document(
        "tests",
        passed=passed,
        findings=_findings(cfg, code, counts),
        payload=_payload(command, code, seconds, counts),
    )
    out = write_results(results_dir or cfg.root / DEFAULT_RESULTS_DIR, doc)
    summary = (
        f"{counts.tests} test(s), {counts.failures} failed, {counts.errors} errors,"
        f" {counts.skipped} skipped"
        if counts is not None
        else f"exit code {code}"
    )
    verdict = "passed" if passed else "tests failed"
    rt.info(f"mlci test: {verdict} ({summary}) in {seconds:.1f} s; results in {out}")
    return EXIT_OK if passed else EXIT_FAILED


def _run(cfg: Config, command: str) -> int | None:
    """The test command's exit code, or None when it ran out of ``ci.timeout_minutes``."""
    from mlci.proc import CommandTimeout, run_user_command

    try:
        return run_user_command(command, cwd=cfg.root, timeout=cfg.ci.timeout_minutes * 60)
    except CommandTimeout:
        return None
    except OSError as exc:
        raise InputError(
            f"ci.test_command {command!r} could not start ({exc.strerror}); check it in mlci.yaml"
        ) from None


def _findings(cfg: Config, code: int | None, counts: JUnit | None) -> list[Finding]:
    """One finding per failing test named in the JUnit report, else one for the command."""
    if code is None:
        return [
            Finding(
                "tests_failed",
                "error",
                f"the tests did not finish in {cfg.ci.timeout_minutes} min"
                " (ci.timeout_minutes); they were stopped",
            )
        ]
    if counts is not None and counts.failing:
        return [
            Finding("tests_failed", "error", f"{name}: {message}")
            for name, message in counts.failing
        ]
    if code != 0:
        return [
            Finding(
                "tests_failed",
                "error",
                f"the test command exited with code {code}; its output is in the job log",
            )
        ]
    return []


def _payload(
    command: str, code: int | None, seconds: float, counts: JUnit | None
) -> dict[str, Any]:
    """The body of ``tests.json``: the command, how it ended, the counts, the failing tests."""
    return {
        "command": command,
        "exit_code": code,
        "seconds": round(seconds, 3),
        "counts": None
        if counts is None
        else {
            "tests": counts.tests,
            "failures": counts.failures,
            "errors": counts.errors,
            "skipped": counts.skipped,
        },
        "failing": [name for name, _ in counts.failing] if counts else [],
        "failing_more": max(counts.failing_total - len(counts.failing), 0) if counts else 0,
    }
