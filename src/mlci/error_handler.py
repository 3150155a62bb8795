"""Maps what escapes a command to an exit code and a message.

Besides `mlci.cli.main`, this is the only place that decides exit codes.

- `MlciError` (bad usage, config or input): its message, exit 2, no traceback.
- `ValidationFailed` (a gate failed): its message, exit 1.
- ``KeyboardInterrupt``: exit 130.
- anything else is a bug: "this is a bug" plus the traceback, exit 3.

Under Actions the message is also an ``::error::`` annotation pointing at the file
and line when the error knows them.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable, Mapping
from typing import Any

from mlci.errors import (
    EXIT_BUG,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    ConfigError,
    MlciError,
    ValidationFailed,
)
from mlci.github.runtime import Runtime

__all__ = ["document_exit_code", "run_guarded"]

BUG_URL = "https://github.com/mlci-dev/mlci/issues"


def run_guarded(command: Callable[[], int], runtime: Runtime | None = None) -> int:
    """Run ``command`` and turn what it raises into an exit code and a message."""
    # Workflow commands (annotations) go to stdout, where the runner reads them.
    rt = runtime or Runtime()
    try:
        code = command()
        sys.stdout.flush()  # a closed pipe shows here, inside the handler, not at exit
        return code
    except ConfigError as exc:
        for issue in exc.issues:
            _report(rt, str(issue), issue.file, issue.line)
        return EXIT_USAGE
    except MlciError as exc:
        _report(rt, exc.message, exc.file, exc.line)
        return EXIT_USAGE
    except ValidationFailed as exc:
        sys.stderr.write(f"mlci: {exc.message}\n")
        return EXIT_FAILED
    except KeyboardInterrupt:
        sys.stderr.write("mlci: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`mlci init | head`): stop quietly, as a writer should.
        # stdout is pointed at /dev/null so the interpreter's final flush does not
        # raise again (the recipe of the Python docs, "Note on SIGPIPE").
        _silence_stdout()
        return EXIT_OK
    except Exception as exc:  # noqa: BLE001 - the one place that catches everything
        sys.stderr.write(
            f"mlci: internal error: {type(exc).__name__}: {exc}\n"
            f"This is a bug in mlci; please report it with the traceback below at {BUG_URL}\n\n"
        )
        traceback.print_exc(file=sys.stderr)
        if rt.on_actions:
            rt.error(f"mlci internal error ({type(exc).__name__}: {exc}); this is a bug")
        return EXIT_BUG


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # pragma: no cover - stdout without a file descriptor
        pass


def document_exit_code(document: Mapping[str, Any]) -> int:
    """The exit code of a pipeline's results document: 0 when it passed, 1 when not."""
    return EXIT_OK if document.get("passed") is True else EXIT_FAILED


def _report(rt: Runtime, message: str, file: str | None, line: int | None) -> None:
    if rt.on_actions:
        rt.error(message, file=file, line=line, title="mlci")
    sys.stderr.write(f"mlci: error: {message}\n")
