"""The mlci exception tree and the exit codes it maps to.

```
MlciError                 exit 2: bad usage, config or input; the message says how to fix it
 +-- ConfigError          mlci.yaml (or another YAML or JSON input) is invalid; every issue found
 +-- InputError           a data, model or results file cannot be used
 +-- TemplateError        a template is missing or references an unknown variable
 +-- GitHubAPIError       the GitHub REST API refused or failed a request
 +-- DeployError          a deploy step failed
ValidationFailed          exit 1: a data or model gate failed (not an error in mlci or input)
```

Anything else that escapes a command is a bug: exit 3 with a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "EXIT_BUG",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "ConfigError",
    "ConfigIssue",
    "DeployError",
    "GitHubAPIError",
    "InputError",
    "MlciError",
    "TemplateError",
    "ValidationFailed",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_BUG = 3
EXIT_INTERRUPTED = 130


class MlciError(Exception):
    """An expected error caused by usage, configuration or input; exit code 2.

    Args:
        message: ``<where>: <what is wrong>; <how to fix>``.
        file: The file the error is about, for a GitHub annotation.
        line: The 1-based line in ``file``.
    """

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class ConfigIssue:
    """One problem found in a YAML file, with its position (1-based line and column)."""

    file: str
    line: int | None
    column: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ConfigError(MlciError):
    """A YAML (or typed JSON) file mlci reads is invalid; holds every issue found."""

    def __init__(self, issues: list[ConfigIssue]):
        if not issues:
            raise ValueError("ConfigError needs at least one issue")
        self.issues = list(issues)
        first = self.issues[0]
        super().__init__("\n".join(str(i) for i in self.issues), file=first.file, line=first.line)


class InputError(MlciError):
    """A data, model or results file cannot be read or does not fit."""


class TemplateError(MlciError):
    """A template could not be found or rendered."""


class GitHubAPIError(MlciError):
    """The GitHub REST API answered with an error, or could not be reached.

    Args:
        message: What failed and the hint to fix it (never the token).
        status: The HTTP status code, or None when no answer came.
        method: The HTTP method of the failed request.
        url: The URL of the failed request.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        method: str | None = None,
        url: str | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.method = method
        self.url = url


class DeployError(MlciError):
    """A deploy, registry or rollback step could not be completed."""


class ValidationFailed(Exception):
    """A data or model gate failed: exit code 1. The findings explain why."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message
