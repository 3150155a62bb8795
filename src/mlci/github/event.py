"""The payload of the event that started the run, read strictly and validated before use.

The runner writes the webhook payload of the triggering event to the file
``GITHUB_EVENT_PATH`` names (docs: "Events that trigger workflows"; the payloads are
those of "Webhook events and payloads"). mlci reads a few of its fields: the pull
request's number and head commit (``pull_request``), the pull request run behind a
``workflow_run`` (its id, head commit, branch, head repository and listed pull
requests), and the merged commit's message (``push``). ``workflow_dispatch`` inputs and
the ``schedule`` cron are typed too, so that every event kind the generated workflows
run on is checked.

`read_event` reads the file through `mlci.jsonio` (a regular file of at most
`EVENT_MAX_BYTES`, nesting and numbers bounded) and checks it against `EventPayload`
before any field is used: a payload that does not fit is exit 2 naming the file and the
field. The declarations below are the subset of GitHub's webhook schemas (npm
``@octokit/webhooks-schemas``) for the fields mlci reads; the tests check each of them
against the schemas and every real example payload of those events against them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from mlci.errors import ConfigError, InputError
from mlci.github.runtime import Runtime
from mlci.limits import EVENT_MAX_BYTES
from mlci.typedload import spec

__all__ = [
    "EventPayload",
    "HeadCommit",
    "PullHead",
    "PullRequest",
    "Repository",
    "RunPullRequest",
    "WorkflowRun",
    "read_event",
    "validate_event",
]

_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_FIX = (
    "the runner writes this file; when you give one yourself (act -e), use a payload of"
    ' the shape GitHub sends (docs: "Webhook events and payloads")'
)


@dataclass(frozen=True)
class Owner:
    """The account that owns a repository."""

    OPEN_KEYS: ClassVar[bool] = True

    login: str = spec(doc="The account's login")


@dataclass(frozen=True)
class Repository:
    """A repository as events describe it (``repository-lite``)."""

    OPEN_KEYS: ClassVar[bool] = True

    full_name: str = spec(doc="owner/name")
    owner: Owner = spec(doc="The account that owns it")


@dataclass(frozen=True)
class PullHead:
    """The head of a pull request (mlci reads its commit)."""

    OPEN_KEYS: ClassVar[bool] = True

    sha: str = spec(doc="The head commit")


@dataclass(frozen=True)
class PullRequest:
    """The pull request of a ``pull_request`` event."""

    OPEN_KEYS: ClassVar[bool] = True

    number: int = spec(doc="The pull request's number", minimum=1)
    head: PullHead = spec(doc="Its head branch and commit")


@dataclass(frozen=True)
class RunPullRequest:
    """A pull request a ``workflow_run`` lists (same-repository pull requests only)."""

    OPEN_KEYS: ClassVar[bool] = True

    number: int = spec(doc="The pull request's number", minimum=1)
    head: PullHead = spec(doc="Its head branch and commit")


@dataclass(frozen=True)
class WorkflowRun:
    """The run a ``workflow_run`` event is about (the pull request's run)."""

    OPEN_KEYS: ClassVar[bool] = True

    id: int = spec(doc="The run's id", minimum=1)
    head_sha: str = spec(doc="The commit the run ran on")
    head_branch: str | None = spec(None, "The branch the run ran on")
    head_repository: Repository | None = spec(None, "The repository of that branch (a fork's)")
    pull_requests: list[RunPullRequest] = spec(
        doc="The pull requests of the run (empty for a fork's: actions/runner#3444)",
        factory=list,
    )


@dataclass(frozen=True)
class HeadCommit:
    """The newest commit of a ``push``."""

    OPEN_KEYS: ClassVar[bool] = True

    message: str = spec(doc="Its message")


@dataclass(frozen=True)
class EventPayload:
    """The fields of an event payload mlci reads; every one present must fit its type."""

    OPEN_KEYS: ClassVar[bool] = True

    pull_request: PullRequest | None = spec(None, "pull_request events")
    workflow_run: WorkflowRun | None = spec(None, "workflow_run events")
    head_commit: HeadCommit | None = spec(None, "push events (null when a branch is deleted)")
    inputs: dict[str, Any] | None = spec(None, "workflow_dispatch events")
    schedule: str | None = spec(None, "schedule events: the cron expression")


def _commits(payload: EventPayload) -> list[tuple[str, str]]:
    """(field, value) of every commit SHA the payload names."""
    found = []
    if payload.pull_request is not None:
        found.append(("pull_request.head.sha", payload.pull_request.head.sha))
    run = payload.workflow_run
    if run is not None:
        found.append(("workflow_run.head_sha", run.head_sha))
        for i, pull in enumerate(run.pull_requests):
            found.append((f"workflow_run.pull_requests[{i}].head.sha", pull.head.sha))
    return found


def validate_event(data: Any, *, source: str) -> EventPayload:
    """Check an event payload (parsed JSON) against `EventPayload`.

    Raises:
        InputError: naming ``source`` and the first field that does not fit.
    """
    from mlci import jsonio

    try:
        payload = jsonio.validate_typed(EventPayload, data, source=source)
    except ConfigError as exc:
        more = f" (and {len(exc.issues) - 1} more)" if len(exc.issues) > 1 else ""
        raise InputError(f"{exc.issues[0]}{more}; {_FIX}") from None
    for name, sha in _commits(payload):
        if not _SHA.fullmatch(sha):
            raise InputError(f"{source}: {name}: {sha[:60]!r} is not a commit SHA; {_FIX}")
    return payload


def read_event(runtime: Runtime) -> dict[str, Any]:
    """The payload of the run's event, validated; ``{}`` when there is none (off Actions).

    The JSON object is returned as it is once every field mlci reads (`EventPayload`)
    has been checked; read other fields only after declaring them there.

    Raises:
        InputError: when the file is missing, not a regular file, larger than
            `EVENT_MAX_BYTES`, not strict JSON, or a field does not fit.
    """
    from mlci import jsonio

    path = runtime.event_path
    if not path:
        return {}
    data = jsonio.read_json(Path(path), what="event payload", limit=EVENT_MAX_BYTES, fix=_FIX)
    validate_event(data, source=path)
    return dict(data)
