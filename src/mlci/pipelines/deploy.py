"""Continuous delivery: deploy a blessed model, and roll production back.

``deploy`` runs, in order: check the blessing (``model.json``) and that the model
file is the exact one blessed (by hash); register the version with its lineage
(or find it registered already for this commit); export ONNX where possible;
smoke-test the registered files through the prediction service on loopback; run
the deploy step (a command and/or a signed webhook); and only then move the
``production`` alias. So a failure or a crash anywhere before the last step
leaves ``production`` where it was, and re-running the same commit resumes the
registered version instead of registering it twice (or does nothing when it is
already in production).

``rollback`` moves ``production`` back to the previous blessed version (or a
named one), runs the deploy step for it, and records the rollback in the history.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import hmac
import math
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from mlci import __version__, jsonio
from mlci.errors import DeployError, InputError, ValidationFailed
from mlci.proc import CommandTimeout, run_user_command, user_env
from mlci.provenance import file_fingerprint, git_sha
from mlci.registry import (
    PRODUCTION,
    ModelVersion,
    Registry,
    RegistryState,
    make_event,
    open_registry,
    resolve_version,
    rollback_target,
)
from mlci.report.escape import code, md
from mlci.results import (
    Finding,
    make_document,
    read_data_results,
    read_model_results,
    to_jsonable,
    write_results,
)

if TYPE_CHECKING:
    import pandas as pd

    from mlci.config import Config, Webhook
    from mlci.github.runtime import Runtime

__all__ = [
    "DeployOutcome",
    "deploy",
    "registry_rows",
    "rollback",
    "run_deploy_step",
    "send_webhook",
    "sign_payload",
]

Status = Literal["deployed", "unchanged", "refused", "failed", "rolled_back"]
SIGNATURE_HEADER = "X-Mlci-Signature-256"
WEBHOOK_BACKOFF_S = 1.0
WEBHOOK_MAX_WAIT_S = 30.0
COMMAND_TIMEOUT_S = 3600.0
SAMPLE_ROWS = 2000


@dataclass
class DeployOutcome:
    """What a deploy or rollback did.

    Attributes:
        status: ``deployed``, ``unchanged`` (already in production), ``rolled_back``,
            ``refused`` (not blessed) or ``failed``.
        version: The version concerned.
        previous: The production version before, if any.
        message: One line for the terminal.
        document: The ``deploy.json`` results document written.
    """

    status: Status
    version: int | None
    previous: int | None
    message: str
    document: dict[str, Any] = field(default_factory=dict)


# -- small helpers ------------------------------------------------------------------------


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()


def _bare_hash(value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    return value.split(":", 1)[1] if value.startswith("sha256:") else value


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else "n/a"
    return "n/a" if value is None else str(value)


def _read_sample(config: Config, rows: int) -> pd.DataFrame | None:
    """The first ``rows`` rows of the eval data, or None when no eval data is configured."""
    if not config.data.eval:
        return None
    from mlci.data.io import iter_frames

    path = config.resolve(config.data.eval)
    for _, frame in iter_frames(path, chunk_rows=max(rows, 1000)):
        return frame.head(rows).reset_index(drop=True)
    return None  # pragma: no cover - iter_frames raises on empty data


def _features(frame: pd.DataFrame, config: Config, names: list[str] | None) -> pd.DataFrame:
    if names:
        missing = [n for n in names if n not in frame.columns]
        if missing:
            raise InputError(
                f"{config.data.eval}: the eval data lacks the model's feature column(s)"
                f" {', '.join(map(repr, missing[:10]))}; fix data.eval or model.features"
            )
        return frame[names]
    drop = [c for c in (config.data.target, config.data.prediction, *config.data.id_columns) if c]
    return frame.drop(columns=[c for c in drop if c in frame.columns])


def _metric_changes(new: Mapping[str, Any], old: Mapping[str, Any] | None) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for name in sorted(set(new) | set(old or {})):
        after, before = new.get(name), (old or {}).get(name)
        delta = (
            after - before
            if isinstance(after, int | float) and isinstance(before, int | float)
            else None
        )
        changes[name] = {"before": before, "after": after, "delta": delta}
    return changes


# -- the deploy step: command and webhook ------------------------------------------------------


def sign_payload(secret: str, body: bytes) -> str:
    """The signature header value: ``sha256=<hex HMAC-SHA256 of body>`` (GitHub's scheme)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _expand(text: str, env: Mapping[str, str], where: str) -> str:
    def sub(match: re.Match[str]) -> str:
        value = env.get(match.group(1))
        if not value:
            raise DeployError(
                f"{where}: environment variable {match.group(1)} is not set; set it (as a"
                " secret of the deploy environment on GitHub)"
            )
        return value

    return _ENV_REF.sub(sub, text)


def send_webhook(
    hook: Webhook,
    payload: Mapping[str, Any],
    *,
    env: Mapping[str, str],
    runtime: Runtime | None = None,
) -> dict[str, Any]:
    """POST ``payload`` as JSON to the webhook, signed, with retries.

    Retries connection errors, timeouts, 429 and 5xx with exponential backoff
    (honouring ``Retry-After``); any other 4xx fails at once. Every attempt carries
    the same ``X-Mlci-Delivery`` id so the receiver can drop duplicates.

    Returns:
        ``{"url", "status", "attempts"}`` of the delivery.

    Raises:
        DeployError: when the secret is missing or no attempt succeeded.
    """
    import requests

    from mlci.http import (
        AnswerError,
        RetryPolicy,
        backoff,
        http_url,
        read_bounded,
        retry_after,
    )

    url = http_url(_expand(hook.url, env, "deploy.webhook.url"), "deploy.webhook.url")
    policy = RetryPolicy(backoff=WEBHOOK_BACKOFF_S, max_wait=WEBHOOK_MAX_WAIT_S, jitter=0.0)
    body = jsonio.dumps(payload, indent=None, sort_keys=True).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"mlci/{__version__}",
        "X-Mlci-Event": str(payload.get("event", "deploy")),
        "X-Mlci-Delivery": str(uuid.uuid4()),
    }
    if hook.secret_env:
        secret = env.get(hook.secret_env)
        if not secret:
            raise DeployError(
                f"deploy.webhook.secret_env: {hook.secret_env} is not set; add the secret to"
                " the deploy environment (or remove secret_env to send unsigned)"
            )
        if runtime is not None:
            runtime.mask(secret)
        headers[SIGNATURE_HEADER] = sign_payload(secret, body)
    shown = url.split("?", 1)[0]  # query strings may carry tokens
    last = "no attempt made"
    waited = 0.0
    for attempt in range(1, hook.retries + 2):
        wait: float | None = None
        try:
            resp = requests.post(
                url, data=body, headers=headers, timeout=hook.timeout_s, stream=True
            )
            # The answer is only shown: a short, bounded read within the timeout.
            read_bounded(resp, deadline=time.monotonic() + hook.timeout_s, max_bytes=64 * 1024)
        except (requests.ConnectionError, requests.Timeout, AnswerError) as exc:
            last = f"{type(exc).__name__}"
        else:
            if resp.status_code < 300:
                return {"url": shown, "status": resp.status_code, "attempts": attempt}
            last = f"HTTP {resp.status_code} {resp.text[:200]!r}"
            if resp.status_code != 429 and resp.status_code < 500:
                raise DeployError(
                    f"deploy.webhook: {shown} refused the delivery ({last}); check the"
                    " endpoint and its secret"
                )
            # The one policy of mlci.http: a malformed retry-after gives a bounded default.
            wait = retry_after(resp.headers, cap=policy.max_wait)
        if attempt > hook.retries:
            break
        delay = wait if wait is not None else backoff(policy, attempt - 1)
        delay = min(delay, policy.max_wait - waited)
        if delay < 0:
            break
        if runtime is not None:
            runtime.info(f"webhook attempt {attempt} failed ({last}); retrying in {delay:.1f} s")
        time.sleep(delay)
        waited += delay
    raise DeployError(
        f"deploy.webhook: {shown} failed after {hook.retries + 1} attempt(s) (last: {last});"
        " production was not changed; fix the endpoint and re-run the deploy"
    )


def run_deploy_step(
    config: Config,
    *,
    version: ModelVersion,
    model_dir: Path,
    action: Literal["deploy", "rollback"],
    previous: int | None,
    registry: Registry,
    runtime: Runtime,
) -> dict[str, Any]:
    """Run ``deploy.command`` and send ``deploy.webhook`` for ``version`` (files in ``model_dir``).

    The command gets ``MLCI_MODEL_PATH`` (the ONNX file when there is one, else the
    model file), ``MLCI_MODEL_FILE``, ``MLCI_MODEL_DIR``, ``MLCI_MODEL_VERSION``,
    ``MLCI_MODEL_METADATA`` (path of metadata.json), ``MLCI_MODEL_SHA256``,
    ``MLCI_PREVIOUS_VERSION``, ``MLCI_DEPLOY_ACTION`` and ``MLCI_REGISTRY``.

    Returns:
        What ran: ``{"command": {...} | None, "webhook": {...} | None}``.

    Raises:
        DeployError: when the command exits non-zero or the webhook fails.
    """
    served = version.onnx_file or version.model_file
    env = user_env(
        runtime.env,
        **{
            "MLCI_MODEL_PATH": str(model_dir / served),
            "MLCI_MODEL_FILE": str(model_dir / version.model_file),
            "MLCI_MODEL_DIR": str(model_dir),
            "MLCI_MODEL_VERSION": str(version.version),
            "MLCI_MODEL_METADATA": str(model_dir / "metadata.json"),
            "MLCI_MODEL_SHA256": version.model_hash or "",
            "MLCI_PREVIOUS_VERSION": "" if previous is None else str(previous),
            "MLCI_DEPLOY_ACTION": action,
            "MLCI_REGISTRY": f"{registry.name}:{registry.describe()}",
        },
    )
    out: dict[str, Any] = {"command": None, "webhook": None}
    command = config.deploy.command
    if command:
        runtime.info(f"deploy step: running deploy.command for v{version.version}")
        started = time.monotonic()
        try:
            exit_code = run_user_command(
                command, cwd=config.root, env=env, timeout=COMMAND_TIMEOUT_S
            )
        except CommandTimeout:
            raise DeployError(
                f"deploy.command: did not finish in {COMMAND_TIMEOUT_S:.0f} s; production was"
                " not changed; make the command faster or run it in the background"
            ) from None
        out["command"] = {
            "exit_code": exit_code,
            "seconds": round(time.monotonic() - started, 3),
        }
        if exit_code != 0:
            raise DeployError(
                f"deploy.command: exited with code {exit_code}; production was not"
                " changed; fix the command (it gets MLCI_MODEL_PATH and MLCI_MODEL_VERSION)"
                " and re-run the deploy"
            )
    if config.deploy.webhook is not None:
        payload = {
            "event": action,
            "version": version.version,
            "previous_version": previous,
            "model": {
                "file": version.model_file,
                "onnx_file": version.onnx_file,
                "sha256": version.model_hash,
                "format": version.metadata.get("format"),
            },
            "metrics": version.metrics,
            "git_sha": version.git_sha,
            "registry": {"backend": registry.name, "location": registry.describe()},
            "repository": runtime.repository,
            "run_url": runtime.run_url(),
            "environment": config.deploy.environment,
            "time": _now(),
        }
        out["webhook"] = send_webhook(config.deploy.webhook, payload, env=env, runtime=runtime)
    return out


# -- smoke test -----------------------------------------------------------------------------


def _smoke_rows(features: pd.DataFrame, n: int) -> pd.DataFrame:
    """The first ``n`` rows, with rows holding missing values swapped in when there are any.

    The service must take nulls where the model was trained with them, so when the
    reference data has missing values, up to a quarter of the rows sent (at least one)
    are rows that have some.
    """
    import pandas as pd

    head = features.head(n)
    with_nulls = features.index[features.isna().any(axis=1)]
    if len(with_nulls) == 0 or head.isna().any(axis=1).sum() >= max(1, n // 4):
        return head.reset_index(drop=True)
    extra = [i for i in with_nulls if i not in head.index][: max(1, n // 4)]
    keep = head.index[: max(0, len(head) - len(extra))]
    return pd.concat([features.loc[keep], features.loc[extra]]).reset_index(drop=True)


def _smoke_test(
    config: Config,
    *,
    version: ModelVersion,
    model_dir: Path,
    original: Path,
    sample: pd.DataFrame,
) -> dict[str, Any]:
    """Serve the registered files on loopback and compare answers with offline predictions."""
    import numpy as np
    import requests

    from mlci.model.load import load_model
    from mlci.serve.app import create_app, load_served_model
    from mlci.serve.server import start_server

    served_file = model_dir / (version.onnx_file or version.model_file)
    served = load_served_model(
        served_file,
        metadata=version.metadata,
        version=version.version,
        trusted=config.model.trusted,
        trusted_types=config.model.trusted_types,
    )
    offline_model = load_model(
        original,
        fmt=config.model.format,
        trusted=config.model.trusted,
        features=config.model.features,
        trusted_types=config.model.trusted_types,
    )
    rows = _smoke_rows(
        _features(sample, config, offline_model.feature_names), config.deploy.smoke_rows
    )
    records = to_jsonable(rows.to_dict(orient="records"))  # NaN is sent as null
    with start_server(create_app(served)) as running:
        health = requests.get(f"{running.url}/health", timeout=30)
        batch = requests.post(f"{running.url}/predict", json={"records": records}, timeout=60)
        single = requests.post(f"{running.url}/predict", json={"records": records[:1]}, timeout=60)
    problems = []
    if health.status_code != 200:
        problems.append(f"/health answered {health.status_code}")
    for name, resp in (("batch", batch), ("single row", single)):
        if resp.status_code != 200:
            problems.append(f"{name} /predict answered {resp.status_code}: {resp.text[:300]}")
    result: dict[str, Any] = {
        "rows": len(records),
        "rows_with_nulls": int(rows.isna().any(axis=1).sum()),
        "served_file": served_file.name,
        "format": served.predictor.format,
        "passed": False,
    }
    if problems:
        result["problems"] = problems
        return result
    body = batch.json()
    expected = np.asarray(offline_model.predict(rows))
    got = np.asarray(body["predictions"])
    tol = config.model.parity
    if offline_model.task_hint == "classification" or offline_model.classes:
        mismatch = float(np.mean(expected.astype(str) != got.astype(str)))
        result["label_mismatch"] = mismatch
        if mismatch > tol.max_label_mismatch:
            problems.append(
                f"{mismatch:.1%} of labels differ from the offline predictions"
                f" (limit {tol.max_label_mismatch:.1%})"
            )
        proba = offline_model.predict_proba(rows)
        if proba is not None and "probabilities" in body:
            diff = float(np.max(np.abs(np.asarray(body["probabilities"]) - proba)))
            result["max_abs_diff"] = diff
            if diff > tol.max_abs_diff:
                problems.append(
                    f"probabilities differ by up to {diff:.3g} (limit {tol.max_abs_diff:g})"
                )
    else:
        diff = float(np.max(np.abs(got.astype(float) - expected.astype(float))))
        result["max_abs_diff"] = diff
        if diff > tol.max_abs_diff * max(1.0, float(np.max(np.abs(expected)))):
            problems.append(
                f"predictions differ by up to {diff:.3g} (limit {tol.max_abs_diff:g}, relative)"
            )
    one, first = single.json()["predictions"][:1], body["predictions"][:1]
    if offline_model.task_hint == "classification" or offline_model.classes:
        differs = one != first
    else:
        # A float32 runtime may round a row differently in a batch (vectorised kernels):
        # the same relative tolerance as the offline parity, not bit equality.
        scale = max(1.0, abs(float(first[0])) if first else 1.0)
        differs = len(one) != len(first) or any(
            abs(float(a) - float(b)) > tol.max_abs_diff * scale
            for a, b in zip(one, first, strict=True)
        )
    if differs:
        problems.append("a single-row request answered differently from the same row in a batch")
    result["passed"] = not problems
    if problems:
        result["problems"] = problems
    return result


# -- deploy -------------------------------------------------------------------------------------


def _model_path(config: Config, model: Path | None, doc: Mapping[str, Any]) -> Path:
    if model is not None:
        return model
    if config.model.path:
        return config.resolve(config.model.path)
    prov = (doc.get("provenance") or {}).get("model") or {}
    cand = prov.get("candidate") if isinstance(prov, Mapping) else None
    if isinstance(cand, Mapping) and isinstance(cand.get("path"), str):
        return config.resolve(cand["path"])
    raise InputError(
        "mlci deploy: no model file given; pass --model PATH or set model.path in mlci.yaml"
    )


def _expected_hash(doc: Mapping[str, Any]) -> str | None:
    blessing = doc.get("blessing") or {}
    value = blessing.get("candidate_hash") if isinstance(blessing, Mapping) else None
    if not value:
        prov = (doc.get("provenance") or {}).get("model") or {}
        cand = prov.get("candidate") if isinstance(prov, Mapping) else None
        value = cand.get("hash") if isinstance(cand, Mapping) else None
    return _bare_hash(value)


def _summary(outcome: DeployOutcome, doc: Mapping[str, Any]) -> str:
    title = {
        "deployed": f"model v{outcome.version} is in production",
        "rolled_back": f"production rolled back to v{outcome.version}",
        "unchanged": f"nothing to do: production stays at v{outcome.version}",
        "refused": "deploy refused; production is unchanged",
        "failed": "deploy failed; production is unchanged",
    }[outcome.status]
    action = md(doc.get("action", "deploy"))
    lines = [f"## mlci {action}: {md(title)}", "", md(outcome.message, 2000), ""]
    rows = [
        ("version", f"v{outcome.version}" if outcome.version else "n/a"),
        ("previous production", f"v{outcome.previous}" if outcome.previous else "none"),
        ("commit", (doc.get("provenance") or {}).get("git_sha") or "n/a"),
        (
            "registry",
            f"{doc.get('registry', {}).get('backend')} {doc.get('registry', {}).get('location')}",
        ),
    ]
    smoke = doc.get("smoke_test")
    if isinstance(smoke, Mapping):
        verdict = "passed" if smoke.get("passed") else "FAILED"
        rows.append(
            ("smoke test", f"{verdict}: {smoke.get('rows')} rows via {smoke.get('format')}")
        )
    onnx = doc.get("onnx")
    if isinstance(onnx, Mapping):
        rows.append(
            ("ONNX", "exported" if onnx.get("exported") else f"not exported: {onnx.get('reason')}")
        )
    lines += ["| | |", "| --- | --- |", *(f"| {k} | {md(v)} |" for k, v in rows), ""]
    changes = doc.get("changes") or {}
    if changes:
        lines += [
            f"### Metrics: v{outcome.previous or '-'} → v{outcome.version}",
            "",
            "| metric | previous | new | change |",
            "| --- | ---: | ---: | ---: |",
        ]
        for name, c in changes.items():
            delta = c.get("delta")
            sign = "" if delta is None else ("+" if delta >= 0 else "")
            lines.append(
                f"| {md(name)} | {_fmt(c.get('before'))} | {_fmt(c.get('after'))} |"
                f" {sign}{_fmt(delta)} |"
            )
        lines.append("")
    for finding in doc.get("findings", []):
        lines.append(
            f"- **{md(finding['severity'])}** {code(finding['check'])}:"
            f" {md(finding['message'], 1000)}"
        )
    return "\n".join(lines).rstrip() + "\n"


def _finish(
    outcome: DeployOutcome,
    *,
    config: Config,
    results_dir: Path,
    runtime: Runtime,
    registry: Registry | None,
    findings: list[Finding],
    payload: dict[str, Any],
    provenance: dict[str, Any],
) -> DeployOutcome:
    payload = {
        "status": outcome.status,
        "version": outcome.version,
        "previous_version": outcome.previous,
        "environment": config.deploy.environment,
        "registry": {
            "backend": registry.name if registry else config.registry.backend,
            "location": registry.describe() if registry else None,
        },
        **payload,
    }
    passed = outcome.status in ("deployed", "unchanged", "rolled_back")
    document = make_document(
        "deploy", passed=passed, findings=findings, payload=payload, provenance=provenance
    )
    write_results(results_dir, document)
    outcome.document = document
    runtime.summary(_summary(outcome, document))
    runtime.set_output(
        "deployed", "true" if outcome.status in ("deployed", "rolled_back") else "false"
    )
    runtime.set_output("version", "" if outcome.version is None else str(outcome.version))
    runtime.set_output("status", outcome.status)
    return outcome


@contextlib.contextmanager
def _workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="mlci-deploy-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _data_lineage(doc: Mapping[str, Any], results_dir: Path) -> dict[str, Any]:
    lineage: dict[str, Any] = {"fingerprints": (doc.get("provenance") or {}).get("data")}
    data_json = results_dir / "data.json"
    if data_json.is_file():
        data_doc = read_data_results(data_json)
        lineage["profile"] = {
            "rows": data_doc.rows,
            "columns": data_doc.columns,
            "passed": data_doc.passed,
            "drift_share": data_doc.drift.share if data_doc.drift else None,
        }
        lineage["fingerprints"] = lineage["fingerprints"] or data_doc.provenance.data
    return lineage


def deploy(
    config: Config,
    *,
    model: Path | None = None,
    results_dir: Path,
    backend: str | None = None,
    runtime: Runtime,
    registry: Registry | None = None,
) -> DeployOutcome:
    """Register, smoke-test and deploy the blessed model; move ``production`` last.

    Args:
        config: The loaded mlci.yaml.
        model: The model file (default ``model.path``, or the path in ``model.json``).
        results_dir: Holds ``model.json`` with the blessing; ``deploy.json`` is written here.
        backend: Registry backend overriding ``registry.backend``.
        runtime: The Actions runtime (summary, outputs, token).
        registry: An open registry (tests); default `open_registry`.

    Returns:
        The outcome; ``deploy.json`` and the job summary are written.

    Raises:
        ValidationFailed: when the model is not blessed, is not the blessed file, or
            fails the smoke test (exit 1).
        DeployError: when the deploy step fails (production unchanged).
    """
    typed = read_model_results(results_dir / "model.json")
    doc = typed.raw
    model_path = _model_path(config, model, doc)
    if not model_path.is_file():
        raise InputError(f"{model_path}: model file not found; pass --model or fix model.path")
    sha = git_sha(config.root)
    model_hash = _bare_hash(file_fingerprint(model_path)) or ""
    metrics = dict(typed.metrics)
    provenance = {"model": {"path": str(model_path), "hash": f"sha256:{model_hash}"}}
    expected = _expected_hash(doc)
    refusal = None
    if typed.blessing is None or not typed.blessing.blessed:
        reason = typed.blessing.reason if typed.blessing else None
        refusal = f"the model is not blessed: {reason or 'no blessing in model.json'}"
    elif expected is None:
        refusal = "model.json records no model hash, so the blessed model cannot be verified"
    elif expected != model_hash:
        refusal = (
            f"{model_path.name} (sha256 {model_hash[:12]}) is not the model that was blessed"
            f" (sha256 {expected[:12]}); deploy the exact file validated, or validate this one"
        )
    if refusal:
        _finish(
            DeployOutcome("refused", None, None, refusal),
            config=config,
            results_dir=results_dir,
            runtime=runtime,
            registry=None,
            findings=[Finding("not_blessed", "error", refusal)],
            payload={"action": "deploy", "metrics": metrics},
            provenance=provenance,
        )
        raise ValidationFailed(f"deploy refused: {refusal}")

    reg = registry or open_registry(config, backend=backend, runtime=runtime)
    state = reg.state()
    current = state.production
    versions = {v.version: v for v in reg.versions()}
    existing = next(
        (
            v
            for v in versions.values()
            if _bare_hash(v.model_hash) == model_hash and (sha is None or v.git_sha == sha)
        ),
        None,
    )
    notes: list[Finding] = []
    payload: dict[str, Any] = {"action": "deploy"}
    production = versions.get(current) if current else None
    held = _production_holds(config, runtime, production, sha, model_hash)
    if existing is None and held is not None:
        # Deploys never go backwards, and the same model is not registered twice.
        return _finish(
            DeployOutcome("unchanged", current, current, held),
            config=config,
            results_dir=results_dir,
            runtime=runtime,
            registry=reg,
            findings=[Finding("production_holds", "info", held)],
            payload={**payload, "metrics": metrics},
            provenance=provenance,
        )
    if existing is not None:
        promoted_before = any(
            e.get("version") == existing.version and e.get("event") in ("promote", "rollback")
            for e in state.history
        )
        if current == existing.version or promoted_before:
            where = (
                "is in production"
                if current == existing.version
                else (
                    f"was deployed before; production is now v{current}"
                    f" (use `mlci rollback --to {existing.version}` to return to it)"
                )
            )
            return _finish(
                DeployOutcome(
                    "unchanged",
                    existing.version,
                    current,
                    f"v{existing.version} ({model_path.name}, commit {sha or 'unknown'}) {where};"
                    " nothing to do",
                ),
                config=config,
                results_dir=results_dir,
                runtime=runtime,
                registry=reg,
                findings=[],
                payload={**payload, "metrics": existing.metrics},
                provenance=provenance,
            )
        notes.append(
            Finding(
                "resumed",
                "info",
                f"v{existing.version} was registered for this commit by an earlier run that did"
                " not finish; resuming it",
            )
        )

    sample = _read_sample(config, max(SAMPLE_ROWS, config.deploy.smoke_rows))
    with _workdir() as work:
        if existing is None:
            version, onnx_info = _register(
                config,
                reg,
                model_path=model_path,
                model_hash=model_hash,
                doc=doc,
                results_dir=results_dir,
                sample=sample,
                sha=sha,
                runtime=runtime,
                work=work,
            )
            reg.record(
                make_event("register", version.version, git_sha=sha, run_url=runtime.run_url())
            )
            payload["onnx"] = onnx_info
            if onnx_info.get("finding"):
                notes.append(Finding(**onnx_info.pop("finding")))
        else:
            version = existing
        runtime.info(f"registered v{version.version} in {reg.name} registry {reg.describe()}")
        model_dir = reg.download(version.version, work / f"v{version.version}")
        previous_metrics = versions[current].metrics if current in versions else None
        payload["metrics"] = version.metrics
        payload["previous_metrics"] = previous_metrics
        payload["changes"] = _metric_changes(version.metrics, previous_metrics)

        def fail(message: str, finding: Finding) -> DeployOutcome:
            reg.record(
                make_event(
                    "deploy_failed",
                    version.version,
                    previous=current,
                    git_sha=sha,
                    run_url=runtime.run_url(),
                    note=message[:500],
                )
            )
            return _finish(
                DeployOutcome("failed", version.version, current, message),
                config=config,
                results_dir=results_dir,
                runtime=runtime,
                registry=reg,
                findings=[finding, *notes],
                payload=payload,
                provenance=provenance,
            )

        if config.deploy.smoke_test:
            if sample is None:
                notes.append(
                    Finding(
                        "smoke_test_skipped",
                        "warning",
                        "no eval data (data.eval) to smoke-test the service with; skipped",
                    )
                )
            else:
                try:
                    smoke = _smoke_test(
                        config,
                        version=version,
                        model_dir=model_dir,
                        original=model_path,
                        sample=sample,
                    )
                except (InputError, DeployError) as exc:
                    fail(f"smoke test: {exc.message}", Finding("smoke_test", "error", exc.message))
                    raise
                payload["smoke_test"] = smoke
                if not smoke["passed"]:
                    message = "smoke test failed: " + "; ".join(smoke.get("problems", []))
                    fail(message, Finding("smoke_test", "error", message))
                    raise ValidationFailed(f"deploy stopped: {message}; production is unchanged")
        try:
            payload["deploy_step"] = run_deploy_step(
                config,
                version=version,
                model_dir=model_dir,
                action="deploy",
                previous=current,
                registry=reg,
                runtime=runtime,
            )
        except DeployError as exc:
            fail(exc.message, Finding("deploy_step", "error", exc.message))
            raise
    recorded = reg.record(
        make_event(
            "promote", version.version, previous=current, git_sha=sha, run_url=runtime.run_url()
        )
    )
    current = _true_previous(recorded, current)
    return _finish(
        DeployOutcome(
            "deployed",
            version.version,
            current,
            f"v{version.version} is now production" + (f" (was v{current})" if current else ""),
        ),
        config=config,
        results_dir=results_dir,
        runtime=runtime,
        registry=reg,
        findings=notes,
        payload=payload,
        provenance=provenance,
    )


def _production_holds(
    config: Config,
    runtime: Runtime,
    production: ModelVersion | None,
    sha: str | None,
    model_hash: str,
) -> str | None:
    """Why production stays as it is, or None to go on deploying.

    - The blessed model is byte for byte the production model (same sha256): a push that
      changed only the README registers and deploys nothing.
    - This commit is an ancestor of production's commit: a re-run of an older deploy
      ("Re-run jobs" keeps the original GITHUB_SHA), or older runs finishing after newer
      ones (a concurrency group does not keep order); production is newer.
    """
    if production is None:
        return None
    if _bare_hash(production.model_hash) == model_hash:
        return (
            f"production is v{production.version}, the same model (sha256 {model_hash[:12]});"
            " nothing registered or deployed"
        )
    prod_sha = production.git_sha
    if not sha or not prod_sha or sha == prod_sha:
        return None
    from mlci.github.git import is_ancestor

    if is_ancestor(sha, prod_sha, cwd=config.root, runtime=runtime):
        return (
            f"production is newer: v{production.version} comes from commit {prod_sha[:12]},"
            f" which already contains this commit {sha[:12]} (a re-run of an older deploy);"
            " nothing registered or deployed"
        )
    return None


def _register(
    config: Config,
    reg: Registry,
    *,
    model_path: Path,
    model_hash: str,
    doc: Mapping[str, Any],
    results_dir: Path,
    sample: pd.DataFrame | None,
    sha: str | None,
    runtime: Runtime,
    work: Path,
) -> tuple[ModelVersion, dict[str, Any]]:
    """Export ONNX where possible, then register the files with their metadata."""
    from mlci.model.load import SklearnModel, load_model
    from mlci.serve.payload import schema_from_frame

    loaded = load_model(
        model_path,
        fmt=config.model.format,
        trusted=config.model.trusted,
        features=config.model.features,
        trusted_types=config.model.trusted_types,
    )
    model_file = "model" + model_path.suffix.lower()
    files = {model_file: model_path}
    onnx_info: dict[str, Any] = {"exported": False}
    features = _features(sample, config, loaded.feature_names) if sample is not None else None
    if loaded.format == "onnx":
        onnx_info = {"exported": False, "reason": "the model is ONNX already"}
    elif not config.model.export_onnx:
        onnx_info["reason"] = "model.export_onnx is false"
    elif features is None:
        onnx_info["reason"] = "no eval data to check the export's parity on"
    elif isinstance(loaded, SklearnModel):
        from mlci.model.onnx import export_onnx

        tol = config.model.parity
        result = export_onnx(
            loaded,
            features,
            work / "model.onnx",
            max_abs_diff=tol.max_abs_diff,
            max_label_mismatch=tol.max_label_mismatch,
        )
        if result.passed and result.output is not None:
            files["model.onnx"] = result.output
            onnx_info = {
                "exported": True,
                "precision": result.precision,
                "parity": result.parity.to_payload() if result.parity else None,
            }
        else:
            reason = "; ".join(f.message for f in result.findings) or "parity failed"
            onnx_info = {
                "exported": False,
                "reason": reason,
                "finding": {
                    "check": "onnx_export",
                    "severity": "warning",
                    "message": f"ONNX export skipped, the original file is served: {reason}",
                },
            }
    hashes = {name: sha256 for name, sha256 in ((n, _file_hash(p)) for n, p in files.items())}
    if hashes[model_file] != model_hash:  # pragma: no cover - the file changed under us
        raise DeployError(f"{model_path}: the file changed while deploying; re-run the deploy")
    blessing = doc.get("blessing") or {}
    metadata = {
        "created": _now(),
        "git_sha": sha,
        "pr": (doc.get("provenance") or {}).get("pr") or blessing.get("pr") or _merged_pr(runtime),
        "run_url": runtime.run_url(),
        "task": doc.get("task") or config.task,
        "model_file": model_file,
        "onnx_file": "model.onnx" if "model.onnx" in files else None,
        "format": loaded.format,
        "source_path": str(model_path),
        "features": loaded.feature_names,
        "classes": loaded.classes,
        "input_schema": (
            schema_from_frame(features, model=loaded).to_dict() if features is not None else None
        ),
        "metrics": dict(doc.get("metrics") or {}),
        "params": (doc.get("params") or {}).get("candidate"),
        "baseline_metrics": doc.get("baseline_metrics"),
        "blessing": dict(blessing),
        "gates": doc.get("gates") or [],
        "data": _data_lineage(doc, results_dir),
        "onnx": {k: v for k, v in onnx_info.items() if k != "finding"},
        "hashes": hashes,
        "mlci_version": __version__,
    }
    return reg.register(files, to_jsonable(metadata)), onnx_info


_PR_IN_MESSAGE = re.compile(r"^Merge pull request #(\d+)\b|\(#(\d+)\)\s*$", re.M)


def _merged_pr(runtime: Runtime) -> int | None:
    """The pull request a push to the default branch merged, from the commit message.

    GitHub writes "Merge pull request #12 from ..." for merge commits and "Title (#12)"
    for squash merges; anything else gives None.
    """
    path = runtime.event_path
    if not path:
        return None
    try:
        event = jsonio.read_json(Path(path), what="event payload")
    except InputError:
        return None
    head = event.get("head_commit") if isinstance(event, dict) else None
    message = head.get("message") if isinstance(head, dict) else None
    match = _PR_IN_MESSAGE.search(message) if isinstance(message, str) else None
    return int(match.group(1) or match.group(2)) if match else None


def _true_previous(state: RegistryState, seen: int | None) -> int | None:
    """The version production held when the event applied (another deploy may have moved it)."""
    last = state.history[-1] if state.history else {}
    previous = last.get("from", seen)
    return previous if isinstance(previous, int) or previous is None else seen


def _file_hash(path: Path) -> str:
    return _bare_hash(file_fingerprint(path)) or ""


# -- rollback -------------------------------------------------------------------------------------


def rollback(
    config: Config,
    *,
    to: str | None = None,
    results_dir: Path,
    backend: str | None = None,
    runtime: Runtime,
    registry: Registry | None = None,
) -> DeployOutcome:
    """Move ``production`` back to the previous blessed version (or ``to``) and redeploy it.

    Raises:
        InputError: when there is nothing to roll back to, or the version is unknown.
        ValidationFailed: when the named version is not blessed.
        DeployError: when the deploy step fails (production unchanged).
    """
    reg = registry or open_registry(config, backend=backend, runtime=runtime)
    state = reg.state()
    current = state.production
    if current is None:
        raise InputError(
            f"registry {reg.describe()}: nothing is in production yet, so there is nothing to"
            " roll back; deploy a model first with `mlci deploy`"
        )
    versions = {v.version: v for v in reg.versions()}
    if to is None:
        number = rollback_target(state, versions)
        if number is None:
            raise InputError(
                f"registry {reg.describe()}: no earlier blessed production version to return to"
                f" from v{current}; name one with `mlci rollback --to VERSION`"
            )
        target = versions[number]
    else:
        target = resolve_version(reg, to)
    if target.version == current:
        raise InputError(f"--to {to}: v{current} is already in production; name another version")
    if not target.blessed:
        reason = (target.metadata.get("blessing") or {}).get("reason", "no blessing recorded")
        raise ValidationFailed(f"rollback refused: v{target.version} is not blessed ({reason})")
    sha = git_sha(config.root)
    payload: dict[str, Any] = {
        "action": "rollback",
        "metrics": target.metrics,
        "previous_metrics": versions[current].metrics if current in versions else None,
        "changes": _metric_changes(
            target.metrics, versions[current].metrics if current in versions else None
        ),
    }
    with _workdir() as work:
        model_dir = reg.download(target.version, work / f"v{target.version}")
        smoke = _rollback_smoke_test(config, target, model_dir)
        if smoke is not None:
            payload["smoke_test"] = smoke
            if not smoke["passed"]:
                message = "smoke test failed: " + "; ".join(smoke.get("problems", []))
                reg.record(
                    make_event(
                        "deploy_failed",
                        target.version,
                        previous=current,
                        git_sha=sha,
                        run_url=runtime.run_url(),
                        note=f"rollback: {message}"[:500],
                    )
                )
                _finish(
                    DeployOutcome("failed", target.version, current, message),
                    config=config,
                    results_dir=results_dir,
                    runtime=runtime,
                    registry=reg,
                    findings=[Finding("smoke_test", "error", message)],
                    payload=payload,
                    provenance={},
                )
                raise ValidationFailed(f"rollback stopped: {message}; production is unchanged")
        try:
            payload["deploy_step"] = run_deploy_step(
                config,
                version=target,
                model_dir=model_dir,
                action="rollback",
                previous=current,
                registry=reg,
                runtime=runtime,
            )
        except DeployError as exc:
            reg.record(
                make_event(
                    "deploy_failed",
                    target.version,
                    previous=current,
                    git_sha=sha,
                    run_url=runtime.run_url(),
                    note=f"rollback: {exc.message}"[:500],
                )
            )
            _finish(
                DeployOutcome("failed", target.version, current, exc.message),
                config=config,
                results_dir=results_dir,
                runtime=runtime,
                registry=reg,
                findings=[Finding("deploy_step", "error", exc.message)],
                payload=payload,
                provenance={},
            )
            raise
    recorded = reg.record(
        make_event(
            "rollback",
            target.version,
            previous=current,
            git_sha=sha,
            run_url=runtime.run_url(),
            note=f"rolled back from v{current}",
        )
    )
    current = _true_previous(recorded, current)
    return _finish(
        DeployOutcome(
            "rolled_back",
            target.version,
            current,
            f"production rolled back from v{current} to v{target.version}",
        ),
        config=config,
        results_dir=results_dir,
        runtime=runtime,
        registry=reg,
        findings=[],
        payload=payload,
        provenance={},
    )


def _rollback_smoke_test(
    config: Config, target: ModelVersion, model_dir: Path
) -> dict[str, Any] | None:
    """Smoke-test the version a rollback moves to (None when off or without eval data).

    The offline answers come from the version's own registered model file; a model
    that cannot even be served is a failed smoke test, not a crash.
    """
    if not config.deploy.smoke_test:
        return None
    sample = _read_sample(config, max(SAMPLE_ROWS, config.deploy.smoke_rows))
    if sample is None:
        return None
    try:
        return _smoke_test(
            config,
            version=target,
            model_dir=model_dir,
            original=model_dir / target.model_file,
            sample=sample,
        )
    except (InputError, DeployError) as exc:
        return {"rows": 0, "passed": False, "problems": [exc.message]}


def registry_rows(registry: Registry) -> list[dict[str, Any]]:
    """One row per version for ``mlci registry list``: number, commit, aliases, metrics."""
    state = registry.state()
    by_version: dict[int, list[str]] = {}
    for alias, number in state.aliases.items():
        by_version.setdefault(number, []).append(alias)
    rows = []
    for v in registry.versions():
        rows.append(
            {
                "version": v.version,
                "created": v.created,
                "git_sha": v.git_sha,
                "blessed": v.blessed,
                "aliases": sorted(by_version.get(v.version, []), key=lambda a: a != PRODUCTION),
                "metrics": v.metrics,
            }
        )
    return rows
