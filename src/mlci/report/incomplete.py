"""The pull request comments that stand in for a report: no results, or results refused.

Every value goes through the one escaper (`mlci.report.escape`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from mlci.report.escape import md, safe_url

__all__ = ["no_results_comment", "refused_comment"]


def _where(run_url: str | None) -> str:
    url = safe_url(run_url)
    return f"[the workflow run]({url})" if url else "the workflow run"


def _commit(head: str | None) -> str:
    return f" for commit `{head[:7]}`" if head else ""


def no_results_comment(run_url: str | None, head: str | None) -> str:
    """The comment when the pull request's job stopped before it wrote its results.

    Args:
        run_url: The pull request's workflow run.
        head: The pull request's head commit (a full SHA), if known.
    """
    return (
        "## mlci: the checks did not run to the end\n\n"
        f"The pull request's mlci job{_commit(head)} stopped before it wrote its results, so"
        f" there is no report this time. See {_where(run_url)} for the step that failed.\n"
    )


def refused_comment(
    path: str, problems: Sequence[str], run_url: str | None, head: str | None
) -> str:
    """The comment when the uploaded results do not validate (a tampered artifact).

    Args:
        path: The refused document.
        problems: What is wrong with it (the first ten are listed).
        run_url: The pull request's workflow run.
        head: The pull request's head commit (a full SHA), if known.
    """
    reasons = "\n".join(f"- {md(p, 300)}" for p in problems[:10])
    return (
        "## mlci: the results were refused\n\n"
        f"The results the pull request's mlci job{_commit(head)} uploaded are not valid mlci"
        f" results ({md(Path(path).name, 80)}), so there is no report this time:\n\n"
        f"{reasons}\n\nSee {_where(run_url)}; results are written by mlci itself, so this"
        " means the artifact was changed or written by another version.\n"
    )
