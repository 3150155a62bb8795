"""Render ``mlci.yaml`` and the workflows from checked answers.

Every answer reaches a generated file as a quoted scalar (JSON string syntax,
which YAML reads as a double-quoted scalar) or as a plain scalar only when it
matches a pattern that YAML cannot read as anything but that string. Comments
carry only answers that passed a pattern check (branch, environment) or the
shell-quoted options line, whose answers hold no line break. After rendering,
each file is parsed back and its top-level keys compared with the expected ones,
so a template or quoting mistake fails here, not on GitHub.
"""

from __future__ import annotations

import json
import posixpath
import re
import shlex
from pathlib import Path
from typing import Any

from mlci import __version__, _release
from mlci.config import CONFIG_FILE, SCHEMA_URL, load_config_text
from mlci.errors import InputError, TemplateError
from mlci.model.committed import RECORD_PATH
from mlci.scaffold.answers import (
    MONITOR_WORKFLOW,
    RECORDED_KEYS,
    WORKFLOWS,
    Answers,
    parse_action_ref,
)
from mlci.scaffold.deploy_env import MAX_SECRETS, check_secret_name, command_secret_names
from mlci.scaffold.detect import ChanceLevel
from mlci.templating import render

__all__ = [
    "ACTION_NAMES",
    "RESULTS_DIR",
    "TOP_KEYS",
    "default_gates",
    "render_config",
    "render_files",
    "workflow_context",
    "workflows",
    "yaml_str",
]

#: The commands of mlci's action (``action.yml`` at the root of its repository) that the
#: workflows run, one step each (``uses: OWNER/mlci@SHA`` with ``command: NAME``).
ACTION_NAMES = ("validate-data", "validate-model", "report", "deploy", "retrain", "monitor")
RESULTS_DIR = "mlci-results"
#: The top-level keys of every generated workflow, in order.
TOP_KEYS = ("name", "on", "permissions", "jobs")

_PLAIN = re.compile(r"[A-Za-z0-9_./][A-Za-z0-9_ ./=:-]*")
_YAML_WORDS = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}


def yaml_str(value: str) -> str:
    """``value`` as a YAML scalar: plain when that is unambiguous, else double-quoted."""
    if (
        _PLAIN.fullmatch(value)
        and value.lower() not in _YAML_WORDS
        and not re.match(r"[-+.\d]", value)
        and not value.endswith((" ", ":"))
        and ": " not in value
        and " #" not in value
    ):
        return value
    return json.dumps(value, ensure_ascii=True)


def _options_text(a: Answers) -> str:
    parts = []
    for key in RECORDED_KEYS:
        value = getattr(a, key)
        if value is not None:
            parts.append(f" --{key.replace('_', '-')} {shlex.quote(value)}")
    text = "".join(parts)
    # The options ride in a comment line: anything that could end it is a bug here,
    # since every answer was checked before (`check_answer`).
    if "\n" in text or "\r" in text or "`" in text:
        raise TemplateError(f"init options {text!r} cannot be recorded in a comment line")
    return text


def default_gates(task: str, chance: ChanceLevel | None) -> dict[str, dict[str, Any]]:
    """The gates init writes: a change bound, and a value bound at chance level.

    The value bound is what the first model (no production model yet) is judged
    on, so the first merge can ship; it stays as a floor for every later model.
    """
    metric = "r2" if task == "regression" else "accuracy"
    gate: dict[str, Any] = {}
    if chance is not None and chance.metric == metric:
        # Rounded down, so a model exactly at chance level still meets the floor it
        # was judged on; the first model must at least do that.
        gate["min"] = float(f"{int(chance.value * 1000) / 1000:.3f}")
        gate["note"] = chance.why
    gate["max_drop"] = 0.02
    return {metric: gate}


def render_config(a: Answers, chance: ChanceLevel | None = None) -> str:
    """The text of ``mlci.yaml`` for the answers, validated by the config loader.

    Raises:
        ConfigError: when an answer makes the config invalid (e.g. a bad cron schedule).
    """
    gates = default_gates(a.task, chance)
    has_value_gate = any("min" in g or "max" in g for g in gates.values())
    text = render(
        "mlci.yaml.j2",
        {
            "schema_url": SCHEMA_URL,
            "task": a.task,
            "reference": a.data,
            "current": a.current,
            "eval_data": a.eval_data,
            "target": a.target,
            "id_columns": a.columns("id_columns"),
            "date_columns": a.columns("date_columns"),
            "model_path": a.model,
            "train_command": a.train_command,
            "test_command": a.test_command,
            "params": [p.strip() for p in (a.params or "").split(",") if p.strip()],
            "shards": a.shard_count,
            "gates": gates,
            # With a value gate the first model is judged on it; without one (no data
            # to compute the chance level from) it is blessed, visibly, so that the
            # first merge ships and later ones have a baseline.
            "first": "bless-on-value-gates" if has_value_gate else "bless",
            "registry": a.registry,
            "retrain_schedule": a.retrain_schedule,
            "retrain_mode": a.retrain_mode,
            "deploy_environment": a.deploy_environment,
            "monitor": bool(a.monitor),
            "monitor_schedule": a.monitor_schedule,
            "monitor_data_command": a.monitor_data_command,
            "monitor_trigger_retrain": a.monitor_trigger_retrain == "true",
            "monitor_oidc": a.monitor_oidc == "true",
            "retrain_oidc": a.retrain_oidc == "true",
        },
    )
    load_config_text(text, f"{CONFIG_FILE} (as mlci init would write it)")
    return text


def workflow_context(a: Answers) -> dict[str, object]:
    """The template context of the workflows (public for tests and golden files)."""
    if a.action_ref:
        repo, sha, tag = parse_action_ref(a.action_ref)
    else:
        repo, sha, tag = (
            f"{_release.OWNER}/{_release.REPOSITORY}",
            _release.COMMIT,
            f"v{_release.VERSION}",
        )
    pins = {
        name.split("/")[1].replace("-", "_"): f"{name}@{commit} # {version}"
        for name, (commit, version) in _release.THIRD_PARTY.items()
    }
    labels = a.runs_on.split(",")
    handover = [p for p in (f"{RESULTS_DIR}/", a.model, a.eval_data) if p]
    return {
        "mlci_version": __version__,
        "init_options": _options_text(a),
        "default_branch": a.default_branch,
        "default_branch_yaml": json.dumps([a.default_branch]),
        "runs_on_yaml": yaml_str(labels[0])
        if len(labels) == 1
        else "[" + ", ".join(yaml_str(s) for s in labels) + "]",
        "python_version_yaml": json.dumps(a.python),
        "pins": pins,
        "mlci": {name.replace("-", "_"): f"{repo}@{sha} # {tag}" for name in ACTION_NAMES},
        # mlci's action for `mlci test` (the same action as every mlci.NAME above).
        "mlci_root": f"{repo}@{sha} # {tag}",
        "test_command": a.test_command,
        "shards": a.shard_count,
        "shard_list": json.dumps(list(range(1, a.shard_count + 1))),
        "config_path": CONFIG_FILE,
        "results_dir": RESULTS_DIR,
        "train_run": yaml_str(a.train_command) if a.train_command else None,
        # The retrain record, beside mlci.yaml (a commit changing it carries its model).
        "retrain_record": posixpath.join(posixpath.dirname(CONFIG_FILE), RECORD_PATH),
        "install_run": yaml_str(a.install_command) if a.install_command else None,
        "registry": a.registry,
        "registry_tag_prefix_yaml": yaml_str(a.tag_prefix),
        "retrain_cron_yaml": json.dumps(a.retrain_schedule),
        "retrain_mode": a.retrain_mode,
        "deploy_environment": a.deploy_environment,
        "deploy_environment_yaml": yaml_str(a.deploy_environment),
        # The deploy step's env: entries, NAME: ${{ secrets.NAME }} (names checked by
        # `mlci.scaffold.deploy_env`; the key goes through yaml_str, so ON or NO stay strings).
        "deploy_secrets": [
            {"key": yaml_str(name), "name": name} for name in _secret_names(a.deploy_secrets)
        ],
        # What the validate job hands to the deploy job: upload-artifact's newline-separated
        # paths, as one quoted scalar (JSON string syntax), so no answer adds structure.
        "handover_paths_yaml": json.dumps("\n".join(handover), ensure_ascii=True),
        # Several paths keep their place under the workspace (upload-artifact roots them at
        # their least common ancestor); a single folder is the artifact's root.
        "handover_into_yaml": "." if len(handover) > 1 else RESULTS_DIR,
        **_monitor_context(a),
        "retrain_oidc": a.retrain_oidc == "true",
        # retrain.data_command runs in the retrain step; in deploy mode so does the deploy
        # step of mlci.yaml, whose secrets it gets too (as mlci-deploy.yml's deploy job).
        "retrain_secrets": _secret_env(
            (
                *(_secret_names(a.deploy_secrets) if a.retrain_mode == "deploy" else ()),
                *_names(a.retrain_secrets),
            ),
            "retrain.data_command",
        ),
    }


def _monitor_context(a: Answers) -> dict[str, object]:
    """The part of the workflow context only mlci-monitor.yml reads."""
    return {
        "monitor_cron_yaml": json.dumps(a.monitor_schedule),
        "monitor_data_run": yaml_str(a.monitor_data_command) if a.monitor_data_command else None,
        # The monitor job's permissions follow mlci.yaml: `actions: write` only when it
        # dispatches mlci-retrain.yml, `id-token: write` only when monitor.oidc asks.
        "monitor_dispatches": a.monitor_trigger_retrain == "true",
        "monitor_oidc": a.monitor_oidc == "true",
        # monitor.rollback writes the registry: the monitor job joins every registry writer's
        # group, `contents: write` with the github registry, and its monitor step (which
        # runs the deploy step of mlci.yaml on a rollback) gets the deploy secrets.
        "monitor_rolls_back": a.monitor_rollback == "true",
        "monitor_deploy_secrets": (
            _secret_env(_secret_names(a.deploy_secrets), "deploy")
            if a.monitor_rollback == "true"
            else []
        ),
        # The env: entries, NAME: ${{ secrets.NAME }}, of the one step that runs
        # monitor.data_command (the data step); the retrain step's are the retrain_secrets.
        "monitor_secrets": _secret_env(
            command_secret_names(a.monitor_data_command), "monitor.data_command"
        ),
    }


def _secret_names(value: str | None) -> list[str]:
    """The names of a comma-separated ``deploy_secrets`` answer, each checked again."""
    names = [n.strip() for n in (value or "").split(",") if n.strip()]
    for name in names:
        check_secret_name(name, "deploy_secrets", "the deploy secret")
    return names


def _names(value: str | None) -> list[str]:
    """The names of a comma-separated answer of secret names."""
    return [n.strip() for n in (value or "").split(",") if n.strip()]


def _secret_env(names: tuple[str, ...] | list[str], key: str) -> list[dict[str, str]]:
    """One step's ``env:`` entries: each name once, checked, the key through `yaml_str`.

    Raises:
        InputError: when a name is not a secret name GitHub accepts, or there are more
            than `MAX_SECRETS`.
    """
    unique = list(dict.fromkeys(names))
    for name in unique:
        check_secret_name(name, CONFIG_FILE, key)
    if len(unique) > MAX_SECRETS:
        raise InputError(
            f"{CONFIG_FILE}: {key} references {len(unique)} variables; at most {MAX_SECRETS}"
            " secrets are passed to one step; put them in one secret (e.g. a JSON document)"
        )
    return [{"key": yaml_str(name), "name": name} for name in unique]


def workflows(a: Answers) -> tuple[str, ...]:
    """The workflows init writes for these answers."""
    return (*WORKFLOWS, MONITOR_WORKFLOW) if a.monitor else WORKFLOWS


def _parse_back(rel: str, text: str) -> None:
    """Parse a rendered workflow and insist on exactly the expected top-level keys."""
    from mlci.yamlio import load_with_marks

    doc = load_with_marks(text, rel).value
    # YAML 1.1 reads `on:` as true (mlci's loader then names the key "True").
    keys = tuple("on" if k in (True, "True") else k for k in doc) if isinstance(doc, dict) else ()
    if keys != TOP_KEYS:
        raise TemplateError(
            f"{rel}: rendered with top-level keys {list(keys)}, expected {list(TOP_KEYS)};"
            " this is a bug in mlci's templates"
        )


def render_files(a: Answers, chance: ChanceLevel | None = None) -> dict[str, str]:
    """Every file `mlci init` writes, ``{relative path: text}``."""
    files = {CONFIG_FILE: render_config(a, chance)}
    context = workflow_context(a)
    for rel in workflows(a):
        text = render(f"workflows/{Path(rel).name}.j2", context)
        _parse_back(rel, text)
        files[rel] = text
    return files
