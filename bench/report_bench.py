"""Rendering and posting a report: mlci's own time, with the HTTP time measured and taken out.

Posting runs against the fake GitHub server of the tests (``tests/fake_github.py``) on
loopback, through the real step (`mlci.pipelines.report.report`). Two measures of
mlci's own time: wall time minus the time spent inside HTTP requests (which includes
the fake server's work), and the CPU time of the thread running mlci (the fake server
answers on other threads), which does not count waiting for a busy CPU. The last row
runs ``python -m mlci report`` as a process (start-up and imports included; CPU time
of the child).

Usage: python bench/report_bench.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.report.documents import PROVENANCE, model_document, write_case  # noqa: E402

from mlci.github.api import GitHubClient  # noqa: E402
from mlci.github.comments import MAX_COMMENT_CHARS, post_sticky_comment  # noqa: E402
from mlci.github.runtime import Runtime  # noqa: E402
from mlci.pipelines.report import report  # noqa: E402
from mlci.report.render import load_report, render_html, render_markdown  # noqa: E402
from mlci.results import Finding, make_document, write_results  # noqa: E402

REPO = "octo/ml-project"


class TimedSession(requests.Session):
    """A session that adds up the time spent in HTTP requests."""

    def __init__(self) -> None:
        super().__init__()
        self.http = 0.0
        self.count = 0

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        start = time.perf_counter()
        try:
            return super().request(*args, **kwargs)
        finally:
            self.http += time.perf_counter() - start
            self.count += 1


def _big_case(directory: Path) -> Path:
    """600 failing data checks (20 samples, an annotation each), 400 drift columns, blocked."""
    findings = [
        Finding(
            "unexpected_category",
            "error",
            f"category problem {i}",
            column=f"col_{i}",
            samples=[{"row": j, "value": "v" * 100} for j in range(20)],
            file="data/schema.yaml",
            line=i + 1,
        )
        for i in range(600)
    ]
    drift = [
        {
            "column": f"col_{i}",
            "method": "psi",
            "statistic": (i % 37) / 100,
            "p_value": None,
            "threshold": 0.2,
            "drifted": (i % 37) > 20,
            "severity": "warning",
            "kind": "feature",
        }
        for i in range(400)
    ]
    data = make_document(
        "data",
        passed=False,
        findings=findings,
        payload={
            "rows": 10**6,
            "columns": 400,
            "counts": {"unexpected_category": {"error": 600, "warning": 0}},
            "drift": {
                "share": 0.4,
                "share_threshold": 0.5,
                "dataset_drift": False,
                "columns": drift,
            },
        },
        provenance=PROVENANCE,
    )
    write_results(directory, data)
    write_results(directory, model_document(blessed=False))
    return directory


def _render(results: Path) -> str:
    report = load_report(results)
    full = render_markdown(report)
    render_html(full)
    return render_markdown(report, max_chars=MAX_COMMENT_CHARS - 40)


Sample = tuple[float, float, float, int]  # wall, HTTP, main-thread CPU, requests


def _measure(runs: int, fn: Callable[[], Sample]) -> tuple[float, float, float, float, int]:
    samples = [fn() for _ in range(runs)]
    wall = statistics.median(s[0] for s in samples)
    http = statistics.median(s[1] for s in samples)
    own = statistics.median(s[0] - s[1] for s in samples)
    cpu = statistics.median(s[2] for s in samples)
    return wall, http, own, cpu, samples[0][3]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    import logging

    from pytest_httpserver import HTTPServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    from tests.fake_github import SPEC_PATH, FakeGitHub, _Dispatcher

    if not SPEC_PATH.is_file():
        print(f"needs {SPEC_PATH} (GitHub's API description) for the fake server")
        return 2
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    dispatcher = _Dispatcher()
    import re

    server.expect_request(re.compile(".*")).respond_with_handler(dispatcher)
    server.start()
    tmp = Path(tempfile.mkdtemp())
    small = write_case(tmp / "blocked", "blocked")
    big = _big_case(tmp / "big")
    rows: list[tuple[str, float, float, float, float, int]] = []
    try:
        for label, results in (("typical (blocked)", small), ("large (600 findings)", big)):

            def render_only(results: Path = results) -> Sample:
                start, cpu = time.perf_counter(), time.thread_time()
                _render(results)
                return time.perf_counter() - start, 0.0, time.thread_time() - cpu, 0

            rows.append((f"render {label}", *_measure(args.runs, render_only)))

            def post(results: Path = results, existing: bool = False) -> Sample:
                fake = FakeGitHub(server.url_for("/").rstrip("/"))
                dispatcher.current = fake
                pr = fake.add_pull()
                fake.add_comments(pr["number"], 250)
                session = TimedSession()
                client = GitHubClient(fake.token, api_url=fake.url, session=session)
                if existing:
                    post_sticky_comment(client, REPO, pr["number"], "old report")
                    session.http, session.count = 0.0, 0
                start, cpu = time.perf_counter(), time.thread_time()
                # The real step: load, render Markdown and HTML, write both, post the
                # sticky comment and a check run with its annotations.
                report(
                    results_dir=results,
                    output_dir=tmp / "out",
                    post=True,
                    check_run=True,
                    pr=pr["number"],
                    repo=REPO,
                    client=client,
                    runtime=Runtime(env={}),
                )
                wall, cpu = time.perf_counter() - start, time.thread_time() - cpu
                session.close()
                return wall, session.http, cpu, session.count

            rows.append((f"render+post new comment, {label}", *_measure(args.runs, post)))
            rows.append(
                (
                    f"render+update comment, {label}",
                    *_measure(args.runs, lambda r=results: post(r, existing=True)),
                )
            )
    finally:
        dispatcher.current = None
        server.clear()
        server.stop()

    cli: list[float] = []
    cpu: list[float] = []
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    for _ in range(args.runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "mlci", "report", "--results", str(small), "-q"],
            check=True,
            capture_output=True,
            env=env,
        )
        cli.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    wall = statistics.median(cli)
    rows.append(
        ("`mlci report` process, typical, no post", wall, 0.0, wall, statistics.median(cpu), 0)
    )

    print(f"median of {args.runs} runs; posting: to a PR with 250 comments, plus a check run")
    print("| scenario | wall s | HTTP s | wall − HTTP s | mlci CPU s | requests |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for label, wall, http, own, cpu_s, count in rows:
        print(f"| {label} | {wall:.3f} | {http:.3f} | {own:.3f} | {cpu_s:.3f} | {count} |")
    worst = max(r[4] for r in rows)
    print(f"\nworst mlci CPU time: {worst:.3f} s (target: under 1 s)")
    return 0 if worst < 1.0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
