"""Model registries: one Protocol, a table of backends, and `open_registry`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from mlci.errors import InputError
from mlci.registry.base import (
    PREVIOUS,
    PRODUCTION,
    ModelVersion,
    Registry,
    RegistryState,
    make_event,
    resolve_version,
    rollback_target,
)

if TYPE_CHECKING:
    from mlci.config import Config
    from mlci.github.runtime import Runtime

__all__ = [
    "BACKENDS",
    "PREVIOUS",
    "PRODUCTION",
    "ModelVersion",
    "Registry",
    "RegistryState",
    "make_event",
    "open_registry",
    "resolve_version",
    "rollback_target",
]


def _open_local(config: Config, _runtime: Runtime | None, _options: Mapping[str, Any]) -> Registry:
    from mlci.registry.local import LocalRegistry

    return LocalRegistry(config.resolve(config.registry.path))


def _open_github(config: Config, runtime: Runtime | None, options: Mapping[str, Any]) -> Registry:
    from mlci.registry.releases import ReleasesRegistry

    return ReleasesRegistry.from_config(
        config.registry, runtime=runtime, client=options.get("client")
    )


# Written out by hand, like pre-commit's language table: no entry-point discovery.
BACKENDS: dict[str, Callable[[Config, Runtime | None, Mapping[str, Any]], Registry]] = {
    "local": _open_local,
    "github": _open_github,
}


def open_registry(
    config: Config,
    *,
    backend: str | None = None,
    runtime: Runtime | None = None,
    **options: Any,
) -> Registry:
    """Open the registry ``config.registry`` names (or ``backend``, which overrides it).

    Args:
        config: The loaded mlci.yaml.
        backend: ``local`` or ``github``; default ``config.registry.backend``
            (``mlci run`` passes ``local``: a local run never touches a remote registry).
        runtime: The Actions runtime (the github backend reads the token and repository).
        **options: Backend-specific extras (``client`` for a ready `GitHubClient`).

    Raises:
        InputError: for an unknown backend name.
    """
    name = backend or config.registry.backend
    opener = BACKENDS.get(name)
    if opener is None:
        raise InputError(
            f"--registry {name}: unknown registry backend; use one of {', '.join(BACKENDS)}"
        )
    return opener(config, runtime, options)
