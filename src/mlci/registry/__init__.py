"""Model registries: one Protocol, a table of backends, and `open_registry`."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, cast

from mlci.errors import InputError, MlciError
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
    "production_version",
    "resolve_version",
    "rollback_target",
]


def _open_local(config: Config, _runtime: Runtime | None, _options: Mapping[str, Any]) -> Registry:
    from mlci.registry.local import LocalRegistry

    return LocalRegistry(config.resolve(config.registry.path))


def _open_github(config: Config, runtime: Runtime | None, options: Mapping[str, Any]) -> Registry:
    from mlci.registry.releases import ReleasesRegistry

    if runtime is None:  # the caller (a pipeline or cli) owns the Actions environment
        raise ValueError("open_registry: the github backend needs the runtime")
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
    chosen = "--registry" if backend else "registry.backend in mlci.yaml"
    with _naming(name, chosen):
        registry = opener(config, runtime, options)
    return cast("Registry", _Named(registry, name, chosen))


def _hint(exc: MlciError, name: str, chosen: str) -> None:
    """Say which registry was tried and how to pick the other, once per error."""
    if getattr(exc, "_registry_named", False):
        return
    others = [b for b in BACKENDS if b != name]
    other = (
        f"; to use the {others[0]} registry instead, pass --registry {others[0]}" if others else ""
    )
    exc.message = f"{exc.message} (registry tried: {name}, from {chosen}{other})"
    exc.args = (exc.message,)
    exc._registry_named = True  # type: ignore[attr-defined]


@contextlib.contextmanager
def _naming(name: str, chosen: str) -> Iterator[None]:
    try:
        yield
    except MlciError as exc:
        _hint(exc, name, chosen)
        raise


class _Named:
    """A registry whose errors say which registry was tried and how to pick the other."""

    def __init__(self, inner: Registry, name: str, chosen: str) -> None:
        self._inner = inner
        self._name = name
        self._chosen = chosen

    def __getattr__(self, attr: str) -> Any:
        value = getattr(self._inner, attr)
        if not callable(value):
            return value

        def call(*args: Any, **kwargs: Any) -> Any:
            with _naming(self._name, self._chosen):
                return value(*args, **kwargs)

        return call


def production_version(registry: Registry) -> ModelVersion | None:
    """The version the ``production`` alias points at, or None before the first deploy."""
    number = registry.state().production
    return registry.get(number) if number is not None else None
