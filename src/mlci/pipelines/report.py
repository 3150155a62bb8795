"""The report step: render the results, write the artifact and summary, post the comment and check.

Runs in the privileged comment job (``workflow_run``), which checks out nothing and
only reads the results artifact; or locally, where it writes the files and returns
the Markdown for the CLI to print.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from mlci.errors import GitHubAPIError, InputError
from mlci.github.checks import CheckAnnotation, create_check_run
from mlci.github.comments import DEFAULT_AUTHOR, MAX_COMMENT_CHARS, marker, post_sticky_comment
from mlci.github.limits import CHECK_TEXT_LIMIT
from mlci.github.pulls import find_run_pull, open_pull_of_commit
from mlci.github.runtime import MAX_SUMMARY_BYTES, Runtime
from mlci.report.incomplete import no_results_comment, refused_comment
from mlci.report.render import (
    Report,
    failing_findings,
    load_report,
    render_html,
    render_markdown,
    summary_title,
)
from mlci.results import (
    DataResults,
    FindingDoc,
    ModelResults,
    ProjectTestsResults,
    RefusedDocument,
    experiment_rows,
)

if TYPE_CHECKING:
    from mlci.github.api import GitHubClient

__all__ = ["ReportOutcome", "report"]

_Doc = TypeVar("_Doc", DataResults, ModelResults, ProjectTestsResults)
_SHA = re.compile(r"[0-9a-f]{40}")
_LEVELS = {"error": "failure", "warning": "warning", "info": "notice"}
_RANK = {"error": 0, "warning": 1, "info": 2}
_NO_TOKEN = (
    "mlci report: no GitHub token to post with; set GITHUB_TOKEN (in the workflow:"
    " `env: GITHUB_TOKEN: ${{ github.token }}` with `permissions: {pull-requests:"
    " write, checks: write}`) or pass the github-token input"
)
#: Annotations sent with the check run: one request's worth, whatever the artifact holds.
MAX_ANNOTATIONS = 50


def _most_severe_first(findings: Sequence[FindingDoc]) -> list[FindingDoc]:
    return sorted(findings, key=lambda f: _RANK.get(f.severity, 3))


@dataclass
class ReportOutcome:
    """What the report step produced."""

    state: str
    markdown: str
    markdown_path: Path
    html_path: Path
    comment_action: str | None = None
    comment_url: str | None = None
    check_run_url: str | None = None
    notes: list[str] = field(default_factory=list)


def _event(runtime: Runtime) -> dict[str, Any]:
    """The run's event payload, validated (a payload that does not fit is exit 2)."""
    from mlci.github.event import read_event

    return read_event(runtime)


def _head_sha(report: Report, runtime: Runtime, given: str | None) -> str | None:
    event = _event(runtime)
    candidates = [
        given,
        ((event.get("pull_request") or {}).get("head") or {}).get("sha"),
        (event.get("workflow_run") or {}).get("head_sha"),
    ]
    for doc in (report.model, report.data):
        if doc is not None:
            candidates.append(doc.provenance.git_sha)
    candidates.append(runtime.sha)
    return next((c for c in candidates if isinstance(c, str) and _SHA.fullmatch(c)), None)


def _pr_number(
    client: GitHubClient, repo: str, runtime: Runtime, given: int | None, sha: str | None
) -> int:
    if given is not None:
        return given
    event = _event(runtime)
    number = (event.get("pull_request") or {}).get("number")
    if isinstance(number, int):
        return number
    run = event.get("workflow_run")
    if isinstance(run, dict):
        # Forks included: by head owner and branch, matched on the run's head commit.
        found = find_run_pull(client, repo, run)
        if found is not None:
            return found
        raise InputError(
            "mlci report --post: no open pull request of"
            f" {_text((run.get('head_repository') or {}).get('full_name'))}"
            f" branch {_text(run.get('head_branch'))} has the run's head commit"
            f" {_text(run.get('head_sha'))} (closed, or pushed to since); nothing to comment on"
        )
    if sha is not None:
        found = open_pull_of_commit(client, repo, sha)
        if found is not None:
            return found
    raise InputError(
        "mlci report --post: cannot tell which pull request to comment on (no pull_request"
        " or workflow_run event, and no open PR for the commit); pass --pr NUMBER"
    )


def _text(value: Any) -> str:
    return repr(value)[:120] if value is not None else "(unknown)"


def _run_url(runtime: Runtime, repo: str) -> str | None:
    """The run that produced the results: this repository's, built from the runtime.

    In the comment job that is the ``workflow_run`` of the event (the pull request's
    run); elsewhere this run. Never read from the results, which a fork controls.
    """
    run = _event(runtime).get("workflow_run")
    run_id = (run.get("id") or "") if isinstance(run, dict) else None
    return runtime.run_url(run_id, repo=repo or None)


def _trusted_provenance(loaded: Report, head: str | None, run_url: str | None) -> Report:
    """Show the pull request's head commit and this repository's run, not the artifact's."""

    def fix(doc: _Doc | None) -> _Doc | None:
        if doc is None:
            return None
        trusted = {"git_sha": head, "run_url": run_url}
        raw_prov = doc.raw.get("provenance")
        raw = {**doc.raw, "provenance": {**(raw_prov or {}), **trusted}}
        provenance = replace(doc.provenance, git_sha=head, run_url=run_url)
        return replace(doc, provenance=provenance, raw=raw)

    return Report(fix(loaded.data), fix(loaded.model), fix(loaded.tests))


def _has_results(results_dir: Path) -> bool:
    return any((results_dir / f"{kind}.json").is_file() for kind in ("data", "model", "tests"))


def _annotations(report: Report) -> list[CheckAnnotation]:
    """At most `MAX_ANNOTATIONS` annotations, the most severe first (one request)."""
    out: list[CheckAnnotation] = []
    for f in _most_severe_first(failing_findings(report)):
        if len(out) >= MAX_ANNOTATIONS:
            break
        path = f.file
        if not path or path.startswith(("/", "..")):
            continue
        where = f.column or f.metric
        title = f"mlci: {f.check}" + (f" ({where})" if where else "")
        out.append(
            CheckAnnotation(
                path=path,
                message=f.message[:2000],
                level=_LEVELS.get(f.severity, "failure"),  # type: ignore[arg-type]
                start_line=max(f.line or 1, 1),
                title=title[:255],
            )
        )
    return out


def report(
    *,
    results_dir: Path,
    output_dir: Path | None = None,
    post: bool = False,
    check_run: bool = False,
    pr: int | None = None,
    repo: str | None = None,
    sha: str | None = None,
    key: str = "default",
    author: str | None = None,
    token: str | None = None,
    registry_tag_prefix: str | None = None,
    runtime: Runtime | None = None,
    client: GitHubClient | None = None,
) -> ReportOutcome:
    """Render the report from ``results_dir``; optionally post the comment and a check run.

    Args:
        results_dir: Where ``data.json`` / ``model.json`` are.
        output_dir: Where ``report.md`` and ``report.html`` go (default: ``results_dir``).
        post: Create or update the sticky PR comment.
        check_run: Create a check run with annotations on the commit.
        pr: The pull request number (default: from the event or the commit).
        repo: ``owner/name`` (default: ``GITHUB_REPOSITORY``).
        sha: The commit for the check run (default: the event's or the results').
        key: Which report this is; one comment per key.
        author: The login the token posts as (default ``github-actions[bot]``).
        token: A token (default: the ``github-token`` input or ``GITHUB_TOKEN``).
        registry_tag_prefix: With ``post`` on a ``workflow_run`` event (the comment job),
            append the candidate to the experiment history of the github registry with
            this version tag prefix; None records nothing (the local registry).
        runtime: The Actions runtime.
        client: A ready client (tests); default built from the runtime.

    Returns:
        The outcome; the verdict is in ``state`` (the command itself does not fail on it).

    Raises:
        InputError: missing or invalid results, nothing to say where to post, or no
            token to post with.
        GitHubAPIError: GitHub refused (the message names the permission).
    """
    rt = runtime or Runtime()
    target = _Target(repo, pr, key, author, token, client, registry_tag_prefix)
    if post and not _has_results(results_dir) and isinstance(_event(rt).get("workflow_run"), dict):
        return _report_missing(results_dir, output_dir, rt, target)
    loaded = _load(results_dir, output_dir, rt, target, post=post)
    run_url: str | None = None
    if post or check_run:
        run_url = _run_url(rt, repo or rt.repository or "")
        loaded = _trusted_provenance(loaded, _head_sha(loaded, rt, sha), run_url)
    outcome = _write_report(loaded, output_dir or results_dir, rt)
    if not (post or check_run):
        return outcome
    owner_name = _repository(repo, rt)
    from mlci.github.api import GitHubClient  # requests only when posting

    gh = GitHubClient.with_token(rt, client, token=token, missing=_NO_TOKEN)
    try:
        head = _head_sha(loaded, rt, sha)
        if post:
            loaded = _post_comment(gh, owner_name, rt, loaded, outcome, target, head)
        if check_run:
            _post_check_run(gh, owner_name, loaded, outcome, key=key, head=head, run_url=run_url)
    finally:
        if client is None:
            gh.close()
    return outcome


@dataclass(frozen=True)
class _Target:
    """Where and as whom the comment goes (the options of ``mlci report --post``)."""

    repo: str | None
    pr: int | None
    key: str
    author: str | None
    token: str | None
    client: GitHubClient | None
    registry_tag_prefix: str | None = None


def _load(
    results_dir: Path, output_dir: Path | None, rt: Runtime, target: _Target, *, post: bool
) -> Report:
    """The validated results; a refused document is exit 2, and the pull request is told."""
    try:
        return load_report(results_dir)
    except RefusedDocument as refused:
        # A tampered artifact is refused (exit 2), and the pull request is told why.
        if post and isinstance(_event(rt).get("workflow_run"), dict):
            _report_missing(results_dir, output_dir, rt, target, refused)
        raise


def _write_report(loaded: Report, out_dir: Path, rt: Runtime) -> ReportOutcome:
    """``report.md``, ``report.html``, the step's outputs and the job summary."""
    outcome = _write_markdown(out_dir, render_markdown(loaded), loaded.state, rt)
    html = render_html(loaded, title=summary_title(loaded))
    outcome.html_path.write_text(html, encoding="utf-8")
    if rt.step_summary_path:
        rt.summary(
            render_markdown(
                loaded, max_chars=MAX_SUMMARY_BYTES - 4096, size=lambda t: len(t.encode())
            )
        )
    return outcome


def _write_markdown(out_dir: Path, markdown: str, state: str, rt: Runtime) -> ReportOutcome:
    """``report.md`` and the step's ``state`` and ``report-path`` outputs."""
    out_dir.mkdir(parents=True, exist_ok=True)
    md_path, html_path = out_dir / "report.md", out_dir / "report.html"
    md_path.write_text(markdown, encoding="utf-8")
    rt.set_output("state", state)
    rt.set_output("report-path", rt.workspace_path(md_path))
    return ReportOutcome(state, markdown, md_path, html_path)


def _repository(repo: str | None, rt: Runtime) -> str:
    """``owner/name`` to post to: ``--repo``, else the runtime's repository."""
    repo = repo or rt.repository
    if not repo or not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", repo):
        raise InputError(
            f"mlci report: repository {repo!r} is not owner/name; pass --repo OWNER/NAME"
            " (on Actions GITHUB_REPOSITORY is set)"
        )
    return repo


def _post_comment(
    gh: GitHubClient,
    repo: str,
    rt: Runtime,
    loaded: Report,
    outcome: ReportOutcome,
    target: _Target,
    head: str | None,
) -> Report:
    """The candidate into the experiment history; the sticky comment on the pull request.

    Returns:
        The report as posted (its recent experiments read from the history, when written).
    """
    number = _pr_number(gh, repo, rt, target.pr, head)
    prefix = target.registry_tag_prefix
    if prefix and loaded.model is not None and isinstance(_event(rt).get("workflow_run"), dict):
        loaded = _record_experiment(gh, repo, loaded, number, rt, outcome, prefix)
    body = render_markdown(loaded, max_chars=MAX_COMMENT_CHARS - len(marker(target.key)) - 1)
    _post_sticky(gh, repo, rt, number, body, target, outcome)
    return loaded


def _post_sticky(
    gh: GitHubClient,
    repo: str,
    rt: Runtime,
    number: int,
    body: str,
    target: _Target,
    outcome: ReportOutcome,
) -> None:
    """Create or update the sticky comment of ``target.key``; note a mismatched author."""
    who = target.author or rt.input("comment-author") or DEFAULT_AUTHOR
    result = post_sticky_comment(gh, repo, number, body, key=target.key, author=who)
    outcome.comment_action, outcome.comment_url = result.action, result.html_url
    if result.author != who:
        outcome.notes.append(
            f"the token posts as {result.author!r}, not {who!r}; pass --comment-author"
            f" {result.author} so the next run updates this comment instead of adding one"
        )
    rt.set_output("comment-url", result.html_url)


def _post_check_run(
    gh: GitHubClient,
    repo: str,
    loaded: Report,
    outcome: ReportOutcome,
    *,
    key: str,
    head: str | None,
    run_url: str | None,
) -> None:
    """A check run on the head commit, with the report and annotations."""
    if head is None:
        raise InputError(
            "mlci report --check-run: no commit SHA in the event or the results; pass --sha"
        )
    run = create_check_run(
        gh,
        repo,
        name="mlci" if key == "default" else f"mlci ({key})",
        head_sha=head,
        conclusion="success" if loaded.passed else "failure",
        title=summary_title(loaded),
        summary=render_markdown(loaded, max_chars=CHECK_TEXT_LIMIT),
        annotations=_annotations(loaded),
        details_url=run_url,
    )
    outcome.check_run_url = run.get("html_url")


def _record_experiment(
    client: GitHubClient,
    repo: str,
    loaded: Report,
    number: int,
    runtime: Runtime,
    outcome: ReportOutcome,
    tag_prefix: str,
) -> Report:
    """Append the pull request's candidate to the github registry's experiment history.

    A fork's job has no write token, so its entry is written here, from the validated
    artifact (the pull request number and branch come from the event, never the
    artifact; the environment and package pins only when well-formed). An entry the
    job already recorded (same id) is not added twice; a refusal (no ``contents:
    write``) is a note, never a failed comment.

    Returns:
        The report with its "Recent experiments" read from the history (the pull
        request's job could not read the draft release, and an artifact's list is
        untrusted); unchanged when the history could not be written.
    """
    from mlci.registry.experiments import make_entry, recent, recorded_environment
    from mlci.registry.release_experiments import ReleaseExperimentLog

    assert loaded.model is not None
    model = loaded.model.raw
    run = _event(runtime).get("workflow_run") or {}
    branch = run.get("head_branch") if isinstance(run.get("head_branch"), str) else None
    env, packages, train_command = recorded_environment(model)
    entry = make_entry(model, branch=branch, pr=number, train_command=train_command, env=env)
    log = ReleaseExperimentLog(client, repo, tag_prefix=tag_prefix)
    try:
        added = log.append(entry, packages)
        entries = log.entries()
    except GitHubAPIError as exc:
        outcome.notes.append(f"{log.path}: experiment not recorded ({exc.message})")
        return loaded
    if added:
        runtime.info(f"recorded experiment {entry['id']} in {log.path}")
    ids = [e.get("id") for e in entries]
    before = entries[: ids.index(entry["id"])] if entry["id"] in ids else entries
    rows = recent(before)
    listed = replace(
        loaded.model, experiments=experiment_rows(rows), raw={**model, "experiments": rows}
    )
    return Report(loaded.data, listed, loaded.tests)


def _report_missing(
    results_dir: Path,
    output_dir: Path | None,
    rt: Runtime,
    target: _Target,
    refused: RefusedDocument | None = None,
) -> ReportOutcome:
    """No usable results (none, or ``refused``): say so on the pull request, with the run."""
    repo = _repository(target.repo, rt)
    from mlci.github.api import GitHubClient

    run = _event(rt).get("workflow_run") or {}
    head = run.get("head_sha") if isinstance(run.get("head_sha"), str) else None
    head = head if head and _SHA.fullmatch(head) else None
    if refused is None:
        body = no_results_comment(_run_url(rt, repo), head)
    else:
        body = refused_comment(refused.path, refused.problems, _run_url(rt, repo), head)
    state = "incomplete" if refused is None else "refused"
    outcome = _write_markdown(output_dir or results_dir, body, state, rt)
    gh = target.client or GitHubClient.from_runtime(rt, token=target.token, log=rt.info)
    try:
        number = _pr_number(gh, repo, rt, target.pr, head)
        _post_sticky(gh, repo, rt, number, body, target, outcome)
    finally:
        if target.client is None:
            gh.close()
    if refused is None:
        rt.warning(f"{results_dir}: no results from the pull request's run; commented so")
    return outcome
