"""`mlci experiments`: the candidates validated so far, best first, and how to reproduce one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mlci import jsonio
from mlci.config import Config
from mlci.errors import InputError
from mlci.metrics import BUILTIN_METRICS
from mlci.registry.experiments import ExperimentLog, best_first

if TYPE_CHECKING:
    from mlci.github.api import GitHubClient
    from mlci.github.runtime import Runtime
    from mlci.registry.release_experiments import ReleaseExperimentLog

__all__ = ["list_experiments", "show_experiment"]


def experiment_log(
    config: Config,
    backend: str | None,
    runtime: Runtime | None = None,
    client: GitHubClient | None = None,
) -> ExperimentLog | ReleaseExperimentLog:
    """The experiment history of the registry in use: the local folder or the github asset.

    Raises:
        InputError: an unknown backend, or a github registry whose repository is unknown.
    """
    name = backend or config.registry.backend
    if name == "github":
        return github_log(config, runtime, client)
    if name != "local":
        raise InputError(f"--registry {name}: unknown registry backend; use local or github")
    return ExperimentLog(config.resolve(config.registry.path))


def github_log(
    config: Config, runtime: Runtime | None = None, client: GitHubClient | None = None
) -> ReleaseExperimentLog:
    """The experiment history of the github registry ``config.registry`` names."""
    from mlci.github.runtime import Runtime
    from mlci.registry.release_experiments import ReleaseExperimentLog

    return ReleaseExperimentLog.from_config(
        config.registry, runtime=runtime or Runtime(), client=client
    )


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "—" if value is None else str(value)


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )


def list_experiments(
    config: Config,
    *,
    last: int | None = None,
    pr: int | None = None,
    as_json: bool = False,
    backend: str | None = None,
    runtime: Runtime | None = None,
    client: GitHubClient | None = None,
) -> str:
    """The experiment history as a table (best first by the first gated metric) or JSON.

    Args:
        config: The loaded mlci.yaml.
        last: Only the last N candidates (by time).
        pr: Only the candidates of this pull request.
        as_json: JSON lines' entries as one JSON list instead of a table.
        backend: The registry backend (default ``registry.backend``).
        runtime: The Actions runtime (the github backend reads the token and repository).
        client: A ready GitHub client (tests).
    """
    log = experiment_log(config, backend, runtime, client)
    entries = log.entries()
    if pr is not None:
        entries = [e for e in entries if e.get("pr") == pr]
    if last is not None:
        entries = entries[-last:] if last > 0 else []
    higher = {n: m.higher_is_better for n, m in BUILTIN_METRICS.items()}
    higher |= {n: c.higher_is_better for n, c in config.model.custom_metrics.items()}
    metric, ordered = best_first(entries, higher)
    if as_json:
        return jsonio.dumps(list(ordered))
    if not ordered:
        return f"{log.path}: no experiments yet; `mlci validate-model` records every candidate"
    names = [metric] if metric else []
    names += sorted({m for e in ordered for m in e.get("metrics") or {}} - set(names))[:4]
    head = ["id", "when", "commit", "pr/branch", "verdict", *names, "changed params"]
    rows = [head]
    for e in ordered:
        params = e.get("params") or {}
        rows.append(
            [
                str(e.get("id")),
                str(e.get("created", ""))[:16].replace("T", " "),
                str(e.get("git_sha") or "")[:7] or "—",
                f"#{e['pr']}" if isinstance(e.get("pr"), int) else str(e.get("branch") or "—"),
                str(e.get("verdict")),
                *[_fmt((e.get("metrics") or {}).get(n)) for n in names],
                str(len(params)) + " keys" if params else "—",
            ]
        )
    note = f"best first by {metric}" if metric else "newest first (no gated metric recorded)"
    folded = log.summary()
    tail = (
        f"\n{folded['folded']} older experiment(s) folded into a summary"
        if folded and folded.get("folded")
        else ""
    )
    return _table(rows) + f"\n({len(ordered)} experiment(s), {note}){tail}"


def show_experiment(config: Config, ident: str, *, backend: str | None = None) -> str:
    """What reproduces one candidate: commit, parameters, data, command, environment."""
    log = experiment_log(config, backend)
    e = log.find(ident)
    env: Mapping[str, Any] = e.get("environment") or {}
    lines = [
        f"experiment {e.get('id')}: {e.get('verdict')} ({e.get('reason') or 'no reason recorded'})",
        f"created:        {e.get('created')}",
        f"commit:         {e.get('git_sha') or 'unknown'}",
        f"branch / PR:    {e.get('branch') or '—'} / {e.get('pr') or '—'}",
        f"model sha256:   {e.get('model_sha256')}",
        f"train command:  {e.get('train_command') or '(model.train_command not set)'}",
        f"python:         {env.get('python')} on {env.get('platform')}",
        f"packages:       sha256 {env.get('packages_sha256')}",
    ]
    lock = env.get("lock_file")
    if isinstance(lock, Mapping):
        lines.append(f"lock file:      {lock.get('path')} sha256 {lock.get('sha256')}")
    lines.append("data:")
    lines += [f"  {role}: {fp}" for role, fp in (e.get("data") or {}).items()]
    params = e.get("params") or {}
    lines.append("parameters:" if params else "parameters:     (model.params not set)")
    lines += [f"  {k} = {v!r}" for k, v in params.items()]
    lines.append("metrics:")
    intervals = e.get("intervals") or {}
    for name, value in (e.get("metrics") or {}).items():
        iv = intervals.get(name)
        ci = f"  (delta 95% CI [{_fmt(iv[0])}, {_fmt(iv[1])}])" if iv else ""
        lines.append(f"  {name} = {_fmt(value)}{ci}")
    digest = env.get("packages_sha256")
    packages = log.packages(str(digest)) if digest else None
    lines.append("to reproduce:")
    lines.append(f"  git checkout {e.get('git_sha') or '<commit>'}")
    if packages:
        lines.append(
            f"  pip install -r <(mlci experiments show {e.get('id')} --packages)"
            f"  # {len(packages)} packages"
        )
    lines.append(f"  {e.get('train_command') or '<train command>'}")
    return "\n".join(lines)


def packages_of(config: Config, ident: str, *, backend: str | None = None) -> str:
    """The installed packages recorded with an experiment (``name==version`` lines)."""
    log = experiment_log(config, backend)
    e = log.find(ident)
    digest = (e.get("environment") or {}).get("packages_sha256")
    packages = log.packages(str(digest)) if digest else None
    if packages is None:
        raise InputError(
            f"{log.path}: experiment {e.get('id')} kept no package list; it was recorded"
            " without one"
        )
    return "\n".join(packages)
