"""``mlci init``: detect the project, render mlci.yaml and the workflows, never clobber silently.

The flow is `detect` (what the repository already tells: default branch, data
files, columns, target, task, id and date columns, a model file, ``train.py``,
the Python version), then `resolve` (flags first, then an existing ``mlci.yaml``
and the options recorded in existing workflows, then prompts or the detected
defaults; every answer checked by `check_answer`), then `plan` (render every
file and compare it with the disk) and `write`. Nothing here prints: the CLI
shows the summary, the plan, the diffs and the prompts.

Modules: ``detect`` (reads the repository), ``answers`` (precedence and
checks), ``render`` (templates and quoting), ``plan`` (disk, structure check).
"""

from __future__ import annotations

from mlci.scaffold.answers import (
    CONFIG_KEYS,
    MONITOR_WORKFLOW,
    RECORDED_KEYS,
    WORKFLOWS,
    Answers,
    Question,
    Resolved,
    check_answer,
    parse_action_ref,
    questions,
    recorded_options,
    resolve,
    resolve_answers,
)
from mlci.scaffold.detect import (
    MIN_PYTHON,
    ChanceLevel,
    Detected,
    chance_for,
    chance_level,
    column_facts,
    detect,
    git_root,
    read_columns,
)
from mlci.scaffold.plan import PlannedFile, plan, structure_changes, write
from mlci.scaffold.render import (
    ACTION_NAMES,
    RESULTS_DIR,
    render_config,
    render_files,
    workflow_context,
    workflows,
)

__all__ = [
    "ACTION_NAMES",
    "CONFIG_KEYS",
    "MIN_PYTHON",
    "MONITOR_WORKFLOW",
    "RECORDED_KEYS",
    "RESULTS_DIR",
    "WORKFLOWS",
    "Answers",
    "ChanceLevel",
    "Detected",
    "PlannedFile",
    "Question",
    "Resolved",
    "chance_for",
    "chance_level",
    "check_answer",
    "column_facts",
    "detect",
    "git_root",
    "parse_action_ref",
    "plan",
    "questions",
    "read_columns",
    "recorded_options",
    "render_config",
    "render_files",
    "resolve",
    "resolve_answers",
    "structure_changes",
    "workflow_context",
    "workflows",
    "write",
]
