"""The deploy step: the user's ``deploy.command`` and the signed webhook."""

from __future__ import annotations

import hashlib
import hmac
import re
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from mlci import __version__, jsonio
from mlci.errors import DeployError
from mlci.pipelines.deploy.outcome import _now
from mlci.proc import CommandTimeout, run_user_command, user_env
from mlci.registry import (
    ModelVersion,
    Registry,
)

if TYPE_CHECKING:
    from mlci.config import Config, Webhook
    from mlci.github.runtime import Runtime


__all__ = ["SIGNATURE_HEADER", "run_deploy_step", "send_webhook", "sign_payload"]

SIGNATURE_HEADER = "X-Mlci-Signature-256"
WEBHOOK_BACKOFF_S = 1.0
WEBHOOK_MAX_WAIT_S = 30.0
COMMAND_TIMEOUT_S = 3600.0


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
    from mlci.http import NoAnswer, RetryPolicy, http_url, send

    url = http_url(_expand(hook.url, env, "deploy.webhook.url"), "deploy.webhook.url")
    policy = RetryPolicy(
        retries=hook.retries, backoff=WEBHOOK_BACKOFF_S, max_wait=WEBHOOK_MAX_WAIT_S, jitter=0.0
    )
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
    log = (lambda line: runtime.info(f"webhook {line}")) if runtime is not None else None
    try:
        # The answer is only shown: a short, bounded read within the timeout.
        resp, attempts = send(
            "POST",
            url,
            data=body,
            headers=headers,
            timeout=hook.timeout_s,
            policy=policy,
            max_bytes=64 * 1024,
            log=log,
        )
    except NoAnswer as exc:
        last, attempts = exc.reason, exc.attempts
    else:
        if resp.status_code < 300:
            return {"url": shown, "status": resp.status_code, "attempts": attempts}
        last = f"HTTP {resp.status_code} {resp.text[:200]!r}"
        if resp.status_code != 429 and resp.status_code < 500:
            raise DeployError(
                f"deploy.webhook: {shown} refused the delivery ({last}); check the"
                " endpoint and its secret"
            )
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
    env = _step_env(version, model_dir, action, previous, registry, runtime)
    out: dict[str, Any] = {"command": None, "webhook": None}
    if config.deploy.command:
        out["command"] = _run_command(config, config.deploy.command, version, env, runtime)
    if config.deploy.webhook is not None:
        payload = _webhook_payload(config, version, action, previous, registry, runtime)
        out["webhook"] = send_webhook(config.deploy.webhook, payload, env=env, runtime=runtime)
    return out


def _step_env(
    version: ModelVersion,
    model_dir: Path,
    action: str,
    previous: int | None,
    registry: Registry,
    runtime: Runtime,
) -> dict[str, str]:
    served = version.onnx_file or version.model_file
    return user_env(
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


def _run_command(
    config: Config, command: str, version: ModelVersion, env: dict[str, str], runtime: Runtime
) -> dict[str, Any]:
    """Run ``deploy.command`` (bounded); a non-zero exit or a timeout is a `DeployError`."""
    runtime.info(f"deploy step: running deploy.command for v{version.version}")
    started = time.monotonic()
    try:
        exit_code = run_user_command(command, cwd=config.root, env=env, timeout=COMMAND_TIMEOUT_S)
    except CommandTimeout:
        raise DeployError(
            f"deploy.command: did not finish in {COMMAND_TIMEOUT_S:.0f} s; production was"
            " not changed; make the command faster or run it in the background"
        ) from None
    ran = {"exit_code": exit_code, "seconds": round(time.monotonic() - started, 3)}
    if exit_code != 0:
        raise DeployError(
            f"deploy.command: exited with code {exit_code}; production was not"
            " changed; fix the command (it gets MLCI_MODEL_PATH and MLCI_MODEL_VERSION)"
            " and re-run the deploy"
        )
    return ran


def _webhook_payload(
    config: Config,
    version: ModelVersion,
    action: str,
    previous: int | None,
    registry: Registry,
    runtime: Runtime,
) -> dict[str, Any]:
    return {
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
