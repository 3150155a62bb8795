"""The GitHub Actions runtime: inputs, outputs, step summary, annotations, groups, masks.

This is the only module that reads ``GITHUB_*`` and ``INPUT_*`` variables. Off
Actions, the same calls print plain readable text, so a command behaves the same
on a laptop. Workflow commands (``::error::`` ...) go to stdout, where the
runner reads them.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TextIO

from mlci.paths import relative_path

__all__ = [
    "MAX_ANNOTATIONS",
    "MAX_SUMMARY_BYTES",
    "Annotation",
    "Runtime",
    "escape_data",
    "escape_property",
]

MAX_SUMMARY_BYTES = 1024 * 1024
# GitHub shows at most 10 annotations of each level per step; we keep the most severe.
MAX_ANNOTATIONS = 10

Level = Literal["error", "warning", "notice"]
_LEVEL_ORDER = {"error": 0, "warning": 1, "notice": 2}
_TRUNCATED = (
    "\n\n> [!WARNING]\n> The summary was cut at GitHub's 1 MiB limit;"
    " the full report is in the results artifact.\n"
)


def escape_data(text: str) -> str:
    """Escape a workflow command message (``%``, CR, LF)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a workflow command property value (also ``:`` and ``,``)."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


@dataclass(frozen=True)
class Annotation:
    """One annotation shown on the run and the pull request's files."""

    level: Level
    message: str
    file: str | None = None
    line: int | None = None
    title: str | None = None


class Runtime:
    """The Actions environment, or a plain terminal when not under Actions.

    Args:
        env: The environment to read (default: ``os.environ``).
        stream: Where workflow commands and messages go (default: stdout).
    """

    def __init__(self, env: Mapping[str, str] | None = None, stream: TextIO | None = None):
        self.env = os.environ if env is None else env
        self._stream = stream
        self._pending: list[Annotation] = []
        self._summary_bytes = 0
        self._summary_truncated = False

    @property
    def stream(self) -> TextIO:
        """Where output goes (looked up late so pytest's capsys sees it)."""
        return self._stream or sys.stdout

    @property
    def on_actions(self) -> bool:
        """Whether this process runs as a GitHub Actions step."""
        return self.env.get("GITHUB_ACTIONS") == "true"

    # -- inputs -----------------------------------------------------------------------

    def input(self, name: str, default: str | None = None) -> str | None:
        """An action input: ``INPUT_<NAME>`` (dashes kept, or as underscores), stripped.

        Empty inputs count as not given, as in GitHub's toolkit.
        """
        key = name.upper().replace(" ", "_")
        for candidate in (f"INPUT_{key}", f"INPUT_{key.replace('-', '_')}"):
            value = self.env.get(candidate)
            if value is not None and value.strip():
                return value.strip()
        return default

    def get(self, name: str) -> str | None:
        """A ``GITHUB_*``/``RUNNER_*`` variable (e.g. ``GITHUB_REPOSITORY``), or None."""
        value = self.env.get(name)
        return value if value else None

    # -- the run's facts (the only place that names GITHUB_* variables) ---------------------

    @property
    def repository(self) -> str | None:
        """``owner/name`` of the run's repository (``GITHUB_REPOSITORY``), or None."""
        return self.get("GITHUB_REPOSITORY")

    @property
    def sha(self) -> str | None:
        """The commit the workflow run is for (``GITHUB_SHA``), or None."""
        return self.get("GITHUB_SHA")

    @property
    def ref(self) -> str | None:
        """The full ref of the run, e.g. ``refs/pull/1/merge`` (``GITHUB_REF``), or None."""
        return self.get("GITHUB_REF")

    @property
    def ref_name(self) -> str | None:
        """The short name of the run's ref (``GITHUB_REF_NAME``), or None."""
        return self.get("GITHUB_REF_NAME")

    @property
    def head_ref(self) -> str | None:
        """The head branch of a pull request run (``GITHUB_HEAD_REF``), or None."""
        return self.get("GITHUB_HEAD_REF")

    @property
    def event_name(self) -> str | None:
        """The event that started the run (``GITHUB_EVENT_NAME``), or None."""
        return self.get("GITHUB_EVENT_NAME")

    @property
    def event_path(self) -> str | None:
        """The file holding the event's payload (``GITHUB_EVENT_PATH``), or None."""
        return self.get("GITHUB_EVENT_PATH")

    @property
    def workflow(self) -> str | None:
        """The name of the workflow (``GITHUB_WORKFLOW``), or None."""
        return self.get("GITHUB_WORKFLOW")

    @property
    def workspace(self) -> str | None:
        """The checkout folder of the job (``GITHUB_WORKSPACE``), or None."""
        return self.get("GITHUB_WORKSPACE")

    @property
    def step_summary_path(self) -> str | None:
        """The file the job summary is appended to (``GITHUB_STEP_SUMMARY``), or None."""
        return self.get("GITHUB_STEP_SUMMARY")

    @property
    def output_path(self) -> str | None:
        """The file step outputs are appended to (``GITHUB_OUTPUT``), or None."""
        return self.get("GITHUB_OUTPUT")

    @property
    def api_url(self) -> str | None:
        """The REST API's base URL (GitHub Enterprise differs) (``GITHUB_API_URL``), or None."""
        return self.get("GITHUB_API_URL")

    @property
    def token(self) -> str | None:
        """A token from the environment (``GITHUB_TOKEN``), or None."""
        return self.get("GITHUB_TOKEN")

    # -- the run and the workspace --------------------------------------------------------

    def run_url(self, run_id: str | int | None = None, *, repo: str | None = None) -> str | None:
        """The page of a workflow run of this repository (this run unless ``run_id``).

        None off Actions, or when the id or the repository does not look like one
        (it is put into links, so it must not carry anything else).
        """
        server = self.get("GITHUB_SERVER_URL") or "https://github.com"
        repo = repo or self.get("GITHUB_REPOSITORY")
        run = self.get("GITHUB_RUN_ID") if run_id is None else run_id
        if isinstance(run, bool) or not re.fullmatch(r"[0-9]{1,20}", str(run or "")):
            return None
        if not repo or not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", repo):
            return None
        if not re.fullmatch(r"https?://[A-Za-z0-9.\-]+(:[0-9]+)?", server):
            return None
        return f"{server}/{repo}/actions/runs/{run}"

    def workspace_path(self, path: Path) -> str:
        """``path`` as action outputs and results show it: relative to the workspace.

        Relative to ``GITHUB_WORKSPACE`` when it lies inside it, else to the current
        directory when it lies inside that, else absolute; POSIX separators.
        """
        return relative_path(path, self.get("GITHUB_WORKSPACE"), Path.cwd())

    # -- outputs and summary ------------------------------------------------------------

    def set_output(self, name: str, value: str) -> None:
        """Write a step output to ``$GITHUB_OUTPUT`` (multi-line safe); printed off Actions."""
        path = self.env.get("GITHUB_OUTPUT")
        if not path:
            if self.on_actions:
                self.warning(f"GITHUB_OUTPUT is not set; output {name} is lost")
            return
        if "\n" in value or "\r" in value:
            import secrets

            delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
            while delimiter in value:  # pragma: no cover - 128 random bits
                delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
            text = f"{name}<<{delimiter}\n{value}\n{delimiter}\n"
        else:
            text = f"{name}={value}\n"
        with Path(path).open("a", encoding="utf-8") as fh:
            fh.write(text)

    def summary(self, markdown: str) -> None:
        """Append Markdown to the job summary, keeping the whole under 1 MiB.

        Off Actions (no ``GITHUB_STEP_SUMMARY``) the summary is dropped: commands
        print their own report.
        """
        path = self.env.get("GITHUB_STEP_SUMMARY")
        if not path or self._summary_truncated:
            return
        target = Path(path)
        used = target.stat().st_size if target.exists() else 0
        data = markdown.encode("utf-8")
        room = MAX_SUMMARY_BYTES - used - len(_TRUNCATED.encode())
        if len(data) > room:
            cut = data[: max(room, 0)].decode("utf-8", errors="ignore")
            data = (cut + _TRUNCATED).encode("utf-8")
            self._summary_truncated = True
        with target.open("ab") as fh:
            fh.write(data)

    # -- messages and annotations ---------------------------------------------------------

    def _write(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def info(self, message: str) -> None:
        """A plain line of progress."""
        self._write(message)

    def debug(self, message: str) -> None:
        """A debug line: shown on Actions when step debugging is on; hidden elsewhere."""
        if self.on_actions:
            self._write(f"::debug::{escape_data(message)}")
        elif self.env.get("MLCI_DEBUG"):
            self._write(f"debug: {message}")

    def annotate(self, annotation: Annotation) -> None:
        """Queue an annotation; `flush_annotations` emits the most severe ones."""
        self._pending.append(annotation)

    def error(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        title: str | None = None,
    ) -> None:
        """Emit an error annotation now (or ``error: ...`` off Actions)."""
        self._emit(Annotation("error", message, file, line, title))

    def warning(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        title: str | None = None,
    ) -> None:
        """Emit a warning annotation now (or ``warning: ...`` off Actions)."""
        self._emit(Annotation("warning", message, file, line, title))

    def _emit(self, a: Annotation) -> None:
        if not self.on_actions:
            where = (
                f"{a.file}:{a.line}: " if a.file and a.line else (f"{a.file}: " if a.file else "")
            )
            self.stream.write(f"{a.level}: {where}{a.message}\n")
            self.stream.flush()
            return
        props = []
        if a.file:
            props.append(f"file={escape_property(a.file)}")
        if a.line:
            props.append(f"line={a.line}")
        if a.title:
            props.append(f"title={escape_property(a.title)}")
        head = f"::{a.level} {','.join(props)}" if props else f"::{a.level}"
        self._write(f"{head}::{escape_data(a.message)}")

    def flush_annotations(self) -> int:
        """Emit the queued annotations, at most `MAX_ANNOTATIONS`, most severe first.

        Returns:
            How many were left out (mentioned in one closing notice).
        """
        pending = sorted(self._pending, key=lambda a: _LEVEL_ORDER[a.level])
        self._pending = []
        shown, dropped = pending[:MAX_ANNOTATIONS], pending[MAX_ANNOTATIONS:]
        for a in shown:
            self._emit(a)
        if dropped:
            self._write(
                f"{len(dropped)} more finding(s) are not annotated here (GitHub shows"
                f" {MAX_ANNOTATIONS} per step); see the report"
            )
        return len(dropped)

    @contextmanager
    def group(self, title: str) -> Iterator[None]:
        """A collapsible log group on Actions; a heading line elsewhere."""
        if self.on_actions:
            self._write(f"::group::{escape_data(title)}")
        else:
            self._write(f"== {title}")
        try:
            yield
        finally:
            if self.on_actions:
                self._write("::endgroup::")

    def mask(self, secret: str) -> None:
        """Ask the runner to mask ``secret`` in the log (each line of a multi-line value)."""
        if not self.on_actions:
            return
        for line in secret.splitlines():
            if line.strip():
                self._write(f"::add-mask::{escape_data(line)}")
