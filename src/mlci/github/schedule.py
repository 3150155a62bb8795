"""Scheduled workflows that keep running: warn before GitHub disables them.

GitHub disables the scheduled workflows of a public repository after 60 days without
activity in it, and a disabled workflow also refuses ``workflow_dispatch`` (docs:
"Events that trigger workflows", schedule; "Disabling and enabling a workflow").
A scheduled run can see that coming: the tip of the default branch it checked out
carries the date of the last commit.
"""

from __future__ import annotations

import time
from pathlib import Path

from mlci.github.runtime import Runtime
from mlci.proc import git

__all__ = ["INACTIVE_DAYS", "WARN_AFTER_DAYS", "inactivity_warning"]

#: GitHub disables scheduled workflows of public repositories after this many days.
INACTIVE_DAYS = 60
#: mlci warns from this many days without a commit.
WARN_AFTER_DAYS = 45


def inactivity_warning(cwd: Path, runtime: Runtime, *, now: float | None = None) -> str | None:
    """A warning when a scheduled run sees no commit for `WARN_AFTER_DAYS` days, else None.

    Only for ``schedule`` events; the date is that of the checked-out commit (the tip
    of the default branch, where scheduled workflows run).
    """
    if runtime.event_name != "schedule":
        return None
    stamp = git("log", "-1", "--format=%ct", cwd=cwd)
    if stamp is None or not stamp.isdigit():
        return None
    days = int(((time.time() if now is None else now) - int(stamp)) // 86400)
    if days < WARN_AFTER_DAYS:
        return None
    workflow = runtime.workflow or "this workflow"
    return (
        f"no commit on the default branch for {days} days: GitHub disables the scheduled"
        f" workflows of a public repository after {INACTIVE_DAYS} days without activity, and"
        f" then {workflow} stops (a disabled workflow also refuses workflow_dispatch). Push a"
        " commit, or re-enable it under Actions when it stops"
    )
