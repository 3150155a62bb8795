"""mlci: continuous integration, delivery and training for ML projects on GitHub."""

from __future__ import annotations

from typing import Any

__all__ = ["__version__"]


def __getattr__(name: str) -> Any:
    # Looked up on first use: importlib.metadata costs tens of milliseconds, which
    # `mlci --help` should not pay.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            value = version("mlci")
        except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
            value = "0.0.0+unknown"
        globals()["__version__"] = value
        return value
    raise AttributeError(f"module 'mlci' has no attribute {name!r}")
