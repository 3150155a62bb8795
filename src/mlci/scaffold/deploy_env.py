"""The secrets the deploy job of ``mlci-deploy.yml`` receives: exactly those mlci.yaml names.

GitHub gives a job the secrets of its environment only through ``${{ secrets.NAME }}``
expressions, so the generated deploy step carries one ``env:`` entry per secret the
deploy step of ``mlci.yaml`` uses, and no other job sees any. The names come from:

- ``deploy.webhook.secret_env``, the HMAC secret of the webhook;
- ``${NAME}`` references in ``deploy.webhook.url`` (expanded by `mlci deploy`);
- ``$NAME`` and ``${NAME}`` references in ``deploy.command`` whose name is upper case
  (lower-case names are taken for shell variables) and not one the runner or mlci sets
  itself (``GITHUB_*``, ``RUNNER_*``, ``MLCI_*``, ``HOME``, ``PATH`` ...);
- ``deploy.secrets``, for variables a script reads without the command naming them.

The same rule (`command_secret_names`) gives the monitor's data step the secrets
``monitor.data_command`` references, and the retrain step those of
``retrain.data_command``.

A name given outright (``secret_env``, ``deploy.secrets``) must be one GitHub accepts
for a secret (docs: "Using secrets in GitHub Actions", naming rules): letters, digits
and ``_``, not starting with a digit or with ``GITHUB_``; anything else is refused with
exit 2, naming the key. Names found in a command or URL match that pattern by
construction.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from mlci.errors import InputError

if TYPE_CHECKING:
    from mlci.config import Config

__all__ = ["MAX_SECRETS", "check_secret_name", "command_secret_names", "deploy_secret_names"]

#: At most this many secrets are passed to the deploy job.
MAX_SECRETS = 100

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,199}")
# `$NAME` or `${NAME` (the rest of `${NAME:-default}` does not matter); `$$` is no reference.
_COMMAND_REF = re.compile(r"(?<!\$)\$\{?([A-Za-z_][A-Za-z0-9_]*)")
_URL_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_UPPER = re.compile(r"[A-Z_][A-Z0-9_]*")
#: Prefixes of variables the runner, GitHub or mlci set for every step: never secrets.
_PROVIDED_PREFIXES = ("GITHUB_", "RUNNER_", "ACTIONS_", "INPUT_", "MLCI_", "STATE_")
#: Variables of every runner and shell (a command may use them; they are not secrets).
_PROVIDED = frozenset(
    {
        "CI",
        "HOME",
        "PATH",
        "PWD",
        "OLDPWD",
        "SHELL",
        "USER",
        "LANG",
        "LC_ALL",
        "TERM",
        "TMPDIR",
        "HOSTNAME",
        "IFS",
        "RANDOM",
        "SECONDS",
        "LINENO",
        "UID",
        "EUID",
        "PPID",
        "BASH",
        "BASH_SOURCE",
        "VIRTUAL_ENV",
        "PYTHONPATH",
        "ImageOS",
        "ImageVersion",
    }
)


def check_secret_name(name: object, where: str, key: str) -> str:
    """``name`` when GitHub accepts it as a secret name, else exit 2 naming ``key``.

    Args:
        name: The value given in mlci.yaml.
        where: ``mlci.yaml:LINE:COLUMN`` of the value.
        key: The dotted key, e.g. ``deploy.webhook.secret_env``.

    Raises:
        InputError: when the name is not a valid secret name or starts with ``GITHUB_``.
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InputError(
            f"{where}: {key} {name!r}: not a name GitHub accepts for a secret; use letters,"
            " digits and '_' (not starting with a digit), e.g. DEPLOY_TOKEN"
        )
    if name.upper().startswith("GITHUB_"):
        raise InputError(
            f"{where}: {key} {name!r}: GitHub reserves names starting with GITHUB_ for its"
            " own variables and refuses secrets named so; rename the secret, e.g."
            f" DEPLOY_{name[len('GITHUB_') :].upper() or 'TOKEN'}"
        )
    return name


def _provided(name: str) -> bool:
    return name in _PROVIDED or name.startswith(_PROVIDED_PREFIXES)


def command_secret_names(command: str | None) -> tuple[str, ...]:
    """The secrets a shell command references, in order of first use.

    Upper-case ``$NAME``/``${NAME}`` references that nothing else provides: ``$files``
    (a shell variable), ``$HOME`` or ``$MLCI_RETRAIN_DATA_DIR`` name no secret. Used for
    ``deploy.command``, ``monitor.data_command`` and ``retrain.data_command``.
    """
    names: list[str] = []
    for name in _COMMAND_REF.findall(command or ""):
        if _UPPER.fullmatch(name) and not _provided(name) and name not in names:
            names.append(name)
    return tuple(names)


def deploy_secret_names(cfg: Config) -> tuple[str, ...]:
    """The secrets the deploy step of ``cfg`` uses, in the order mlci.yaml names them.

    Raises:
        InputError: when a name given outright is not a valid secret name (see
            `check_secret_name`), or more than `MAX_SECRETS` are named.
    """
    deploy = cfg.deploy
    names: list[str] = []

    def add(name: str) -> None:
        if name not in names:
            names.append(name)

    hook = deploy.webhook
    if hook is not None:
        if hook.secret_env is not None:
            where = cfg.where("deploy", "webhook", "secret_env")
            add(check_secret_name(hook.secret_env, where, "deploy.webhook.secret_env"))
        for name in _URL_REF.findall(hook.url):
            if not _provided(name):
                add(name)
    for name in command_secret_names(deploy.command):
        add(name)
    for i, name in enumerate(deploy.secrets):
        add(check_secret_name(name, cfg.where("deploy", "secrets", i), f"deploy.secrets[{i}]"))
    if len(names) > MAX_SECRETS:
        raise InputError(
            f"{cfg.where('deploy')}: deploy: names {len(names)} secrets; at most {MAX_SECRETS}"
            " are passed to the deploy job; put them in one secret (e.g. a JSON document)"
        )
    return tuple(names)
