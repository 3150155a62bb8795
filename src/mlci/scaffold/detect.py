"""What the repository tells about itself: branch, data, columns, target, task, ids, dates.

Detection reads CSV files with the ``csv`` module and never imports pandas, so
``mlci init`` stays fast; only a Parquet file loads pyarrow. Every guess carries
the reason it was made (`Guess.why`), which `mlci init` prints in its summary.
"""

from __future__ import annotations

import csv
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Literal

from mlci.errors import InputError
from mlci.proc import git

__all__ = [
    "MIN_PYTHON",
    "TARGET_NAMES",
    "ColumnFacts",
    "Detected",
    "Guess",
    "column_facts",
    "detect",
    "git_root",
    "guess_task",
    "read_columns",
]

Task = Literal["classification", "regression"]

MIN_PYTHON = (3, 11)
RESULTS_DIR = "mlci-results"
#: Column names that make a column the target (compared case-insensitively).
TARGET_NAMES = (
    "target",
    "label",
    "labels",
    "y",
    "class",
    "species",
    "outcome",
    "response",
    "diagnosis",
    "churn",
    "survived",
)
#: Rows read per data file to guess the task, ids and dates.
SAMPLE_ROWS = 5000
#: Whole-number targets with at most this many distinct values are classes.
MAX_CLASSES = 20

_DATA_SUFFIXES = (".csv", ".parquet")
_MODEL_SUFFIXES = (".onnx", ".skops", ".joblib", ".pkl", ".pickle")
_SKIP_DIRS = {
    "node_modules",
    "__pycache__",
    "venv",
    "env",
    "site-packages",
    "build",
    "dist",
    RESULTS_DIR,
}
_EVAL_HINT = re.compile(r"eval|test|holdout|valid", re.I)
_CURRENT_HINT = re.compile(r"current|new|latest|prod|serving|fresh", re.I)
_PYTHON = re.compile(r"(\d+)\.(\d+)(?:\.\d+)?")
_DATE = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?"
)
#: The test command init proposes for a pytest project: JUnit XML beside the results,
#: so the report can list failing tests.
_PYTEST = "python -m pytest -q --junitxml=mlci-results/junit.xml"
_INT = re.compile(r"[+-]?\d+")
_ID_NAME = re.compile(r"(?:^|[_\s-])(?:id|key|uuid)$|^(?:id|key|uuid)(?:$|[_\s-])", re.I)


@dataclass(frozen=True)
class Guess:
    """A detected value and where it came from (shown in init's summary)."""

    value: str | None
    why: str


@dataclass(frozen=True)
class ColumnFacts:
    """What a sample of a data file says about its columns."""

    columns: tuple[str, ...] = ()
    rows: int = 0
    id_like: tuple[str, ...] = ()
    dates: tuple[str, ...] = ()
    values: dict[str, list[str]] = field(default_factory=dict)
    #: The data file (relative to the repository) these facts describe.
    data: str | None = None


@dataclass(frozen=True)
class Detected:
    """What the repository tells about itself; every field may be unknown."""

    default_branch: str = "main"
    data_files: tuple[str, ...] = ()
    reference: str | None = None
    current: str | None = None
    eval_data: str | None = None
    columns: tuple[str, ...] = ()
    target: str | None = None
    task: Task = "classification"
    model: str | None = None
    train_command: str | None = None
    install_command: str | None = None
    test_command: str | None = None
    #: Parameter files (``model.params``): ``params.*`` anywhere, config files beside train.
    params: tuple[str, ...] = ()
    python: str = f"{MIN_PYTHON[0]}.{MIN_PYTHON[1]}"
    id_columns: tuple[str, ...] = ()
    date_columns: tuple[str, ...] = ()
    #: Columns that could be the target when none is named like one.
    target_candidates: tuple[str, ...] = ()
    #: Why each detected value was chosen, by answer key.
    why: dict[str, str] = field(default_factory=dict)


def _git(root: Path, *args: str) -> str | None:
    return git(*args, cwd=root)


def git_root(start: Path) -> Path:
    """The top folder of the git repository holding ``start``.

    Raises:
        InputError: when ``start`` is not inside a git repository.
    """
    top = _git(start, "rev-parse", "--show-toplevel")
    if top is None:
        raise InputError(
            f"{start}: not inside a git repository; run `git init` (or clone the repository)"
            " first, then `mlci init`"
        )
    return Path(top)


def _default_branch(root: Path) -> tuple[str, str]:
    remote = _git(root, "symbolic-ref", "--quiet", "--short", "refs/remotes/origin/HEAD")
    if remote and "/" in remote:
        return remote.split("/", 1)[1], "origin's HEAD"
    head = _git(root, "symbolic-ref", "--quiet", "--short", "HEAD")
    if head:
        return head, "the branch checked out"
    return "main", "default (no branch found)"


def _walk(root: Path, depth: int = 3) -> Iterator[Path]:
    """Files below ``root`` up to ``depth`` folders deep, hidden and tool folders skipped."""
    try:
        entries = sorted(root.iterdir())
    except OSError:
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            if depth > 0 and entry.name not in _SKIP_DIRS and not (entry / "pyvenv.cfg").exists():
                yield from _walk(entry, depth - 1)
        elif entry.is_file():
            yield entry


def read_columns(path: Path) -> tuple[str, ...]:
    """The column names of a CSV (its header row) or Parquet file; () when unreadable."""
    return column_facts(path, rows=0).columns


def _sample(path: Path, rows: int) -> tuple[tuple[str, ...], list[dict[str, str]]]:
    if path.suffix == ".parquet":
        try:
            import pyarrow.parquet as pq  # only for Parquet files: keeps `mlci init` fast

            names = tuple(pq.read_schema(path).names)
            if rows == 0:
                return names, []
            pf = pq.ParquetFile(path)
            out: list[dict[str, str]] = []
            for batch in pf.iter_batches(batch_size=min(rows, 10_000)):
                for record in batch.to_pylist():
                    out.append({k: "" if v is None else str(v) for k, v in record.items()})
                    if len(out) >= rows:
                        return names, out
            return names, out
        except (OSError, ValueError, ImportError):
            return (), []
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            header = tuple(h.strip() for h in next(reader, []))
            sample: list[dict[str, str]] = []
            for i, row in enumerate(reader):
                if i >= rows:
                    break
                sample.append(
                    {h: (row[j].strip() if j < len(row) else "") for j, h in enumerate(header)}
                )
    except (OSError, UnicodeDecodeError, csv.Error):
        return (), []
    return tuple(h for h in header if h), sample


def _is_date(value: str) -> bool:
    if not _DATE.fullmatch(value):
        return False
    try:
        if len(value) == 10:
            date.fromisoformat(value)
        else:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _number(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def column_facts(path: Path, *, rows: int = SAMPLE_ROWS) -> ColumnFacts:
    """The columns of a data file and, from its first ``rows`` rows, ids and dates.

    An id-like column has a value on every row, no repeated value, and is either
    whole numbers that only go up (or only down) or are named like a key (``id``,
    ``customer_id``), or text that is not a number;
    a date column holds ISO dates or timestamps on every non-empty row.
    """
    columns, sample = _sample(path, rows)
    values = {c: [r.get(c, "") for r in sample] for c in columns}
    id_like: list[str] = []
    dates: list[str] = []
    for c in columns:
        seen = [v for v in values[c] if v]
        if not seen:
            continue
        if all(_is_date(v) for v in seen):
            dates.append(c)
            continue
        if len(sample) < 20 or len(seen) != len(sample) or len(set(seen)) != len(seen):
            continue
        if all(_INT.fullmatch(v) for v in seen):
            ints = [int(v) for v in seen]
            pairs = list(zip(ints, ints[1:], strict=False))
            # Monotone, or named like a key (a shuffled split keeps ids unique only).
            if all(a < b for a, b in pairs) or all(a > b for a, b in pairs) or _ID_NAME.search(c):
                id_like.append(c)
        elif all(_number(v) is None for v in seen):
            id_like.append(c)
    return ColumnFacts(columns, len(sample), tuple(id_like), tuple(dates), values)


def guess_task(values: list[str], column: str) -> tuple[Task, str]:
    """The task a target's values imply, and why.

    Text values, or few distinct whole numbers, make a classification; other
    numbers make a regression.
    """
    distinct = {v for v in values if v}
    if not distinct:
        return "classification", f"no values of {column!r} were read; classification assumed"
    numbers = [_number(v) for v in distinct]
    if any(n is None for n in numbers):
        shown = ", ".join(sorted(distinct)[:4]) + (", ..." if len(distinct) > 4 else "")
        return "classification", f"{column!r} holds {len(distinct)} text values ({shown})"
    nums = [n for n in numbers if n is not None]
    if all(n.is_integer() for n in nums) and len(nums) <= MAX_CLASSES:
        return (
            "classification",
            f"{column!r} holds {len(nums)} distinct whole numbers (at most {MAX_CLASSES}: classes)",
        )
    return "regression", f"{column!r} holds {len(nums)} distinct numbers (a quantity)"


def _python_version(root: Path) -> tuple[str, str]:
    found: tuple[int, int] | None = None
    why = ""
    pinned = root / ".python-version"
    if pinned.is_file():
        first = pinned.read_text(encoding="utf-8").strip().split("\n")[0].strip()
        m = _PYTHON.fullmatch(first)
        if m:
            found, why = (int(m.group(1)), int(m.group(2))), ".python-version"
    pyproject = root / "pyproject.toml"
    if found is None and pyproject.is_file():
        m = re.search(
            r'requires-python\s*=\s*["\']\s*>=?\s*(\d+)\.(\d+)',
            pyproject.read_text(encoding="utf-8"),
        )
        if m:
            found, why = (int(m.group(1)), int(m.group(2))), "requires-python in pyproject.toml"
    if found is None:
        found, why = (sys.version_info.major, sys.version_info.minor), "the Python running mlci"
    if found < MIN_PYTHON:
        found, why = MIN_PYTHON, f"mlci's own minimum ({why} asks for less)"
    return f"{found[0]}.{found[1]}", why


def _test_command(root: Path, rel: list[str]) -> tuple[str | None, str]:
    """``pytest`` when the project has a tests/ folder or a pytest configuration."""
    if (root / "pytest.ini").is_file():
        return _PYTEST, "pytest.ini"
    for name, marker in (("pyproject.toml", "[tool.pytest"), ("setup.cfg", "[tool:pytest]")):
        path = root / name
        if path.is_file() and marker in path.read_text(encoding="utf-8", errors="replace"):
            return _PYTEST, f"pytest configuration in {name}"
    if (root / "tox.ini").is_file() and "[pytest]" in (root / "tox.ini").read_text(
        encoding="utf-8", errors="replace"
    ):
        return _PYTEST, "pytest configuration in tox.ini"
    if any(p.startswith("tests/") and Path(p).name.startswith("test_") for p in rel):
        return _PYTEST, "test_*.py files under tests/"
    return None, "no tests/ folder or pytest configuration"


_PARAM_SUFFIXES = (".json", ".yaml", ".yml", ".toml")
#: Common names of a training configuration, looked for in the training script's folder.
_TRAIN_CONFIG_NAMES = ("config", "params", "hyperparams", "hparams", "train_config")


def _params(rel: list[str], script: str | None) -> tuple[tuple[str, ...], str]:
    """Parameter files: ``params.*`` anywhere, common config names beside the train script."""
    beside_train = (
        {str(Path(script).parent), str(Path(script).parent / "config")} if script else set()
    )

    def is_params(p: str) -> bool:
        path = Path(p)
        if path.suffix not in _PARAM_SUFFIXES or p.startswith(("mlci/", "tests/")):
            return False
        if path.stem == "params":
            return True
        return str(path.parent) in beside_train and path.stem in _TRAIN_CONFIG_NAMES

    found = tuple(p for p in rel if is_params(p))[:5]
    if not found:
        return (), "no params.* or training config file found"
    why = (
        "params.* file"
        if all(Path(p).stem == "params" for p in found)
        else ("parameter files (params.*, and config files beside the train script)")
    )
    return found, f"{why} found"


_MODEL_LITERAL = re.compile(
    r"""["']([A-Za-z0-9_./-]{1,200}\.(?:onnx|skops|joblib|pkl|pickle))["']"""
)


def _model_named_in(script: Path) -> str | None:
    """The model file a training script names (a string literal such as ``"model.skops"``)."""
    try:
        text = script.read_text(encoding="utf-8", errors="replace")[:200_000]
    except OSError:
        return None
    found = _MODEL_LITERAL.findall(text)
    if not found:
        return None
    name = found[0].removeprefix("./")
    return None if name.startswith(("/", "..")) else name


def detect(root: Path) -> Detected:
    """Look at the repository at ``root`` and guess the answers of `mlci init`."""
    why: dict[str, str] = {}
    rel = [p.relative_to(root).as_posix() for p in _walk(root)]
    data = tuple(p for p in rel if p.endswith(_DATA_SUFFIXES))
    evals = [p for p in data if _EVAL_HINT.search(Path(p).name)]
    currents = [p for p in data if _CURRENT_HINT.search(Path(p).name) and p not in evals]
    rest = [p for p in data if p not in evals and p not in currents]
    named = [p for p in rest if re.search(r"train|reference|ref", Path(p).name, re.I)]
    refs = named or rest
    reference = refs[0] if refs else None
    if reference:
        why["data"] = "file name says training data" if named else "the only other data file"
    if evals:
        why["eval_data"] = "file name says evaluation data"
    if currents:
        why["current"] = "file name says current data"
    facts = column_facts(root / reference) if reference else ColumnFacts()
    target: str | None = None
    candidates: tuple[str, ...] = ()
    lowered = {c.lower(): c for c in facts.columns}
    for name in TARGET_NAMES:
        if name in lowered:
            target = lowered[name]
            why["target"] = f"column named like a target in {reference}"
            break
    if target is None and facts.columns:
        skip = set(facts.id_like) | set(facts.dates)
        candidates = tuple(c for c in facts.columns if c not in skip)
    task: Task = "classification"
    if target is not None:
        task, why["task"] = guess_task(facts.values.get(target, []), target)
    id_columns = tuple(c for c in facts.id_like if c != target)
    dates = tuple(c for c in facts.dates if c != target)
    if id_columns:
        why["id_columns"] = "unique on every row (increasing whole numbers or text)"
    if dates:
        why["date_columns"] = "ISO dates or timestamps on every row"
    models = [p for p in rel if p.endswith(_MODEL_SUFFIXES)]
    models.sort(key=lambda p: (_MODEL_SUFFIXES.index(Path(p).suffix), p.count("/"), p))
    if models:
        why["model"] = "model file found in the repository"
    script = next((p for p in ("train.py", "src/train.py", "scripts/train.py") if p in rel), None)
    train = f"python {script}" if script else None
    if script:
        why["train_command"] = f"{script} found"
        if not models:
            written = _model_named_in(root / script)
            if written:
                models = [written]
                why["model"] = f"the file name {script} writes"
    requirements = next((p for p in ("requirements.txt", "requirements-dev.txt") if p in rel), None)
    if requirements:
        why["install_command"] = f"{requirements} found"
    test_command, why["test_command"] = _test_command(root, rel)
    params, why["params"] = _params(rel, script)
    branch, why["default_branch"] = _default_branch(root)
    python, why["python"] = _python_version(root)
    return Detected(
        default_branch=branch,
        data_files=data,
        reference=reference,
        current=currents[0] if currents else None,
        eval_data=evals[0] if evals else None,
        columns=facts.columns,
        target=target,
        task=task,
        model=models[0] if models else None,
        train_command=train,
        install_command=f"python -m pip install -r {requirements}" if requirements else None,
        test_command=test_command,
        params=params,
        python=python,
        id_columns=id_columns,
        date_columns=dates,
        target_candidates=candidates,
        why=why,
    )


@dataclass(frozen=True)
class ChanceLevel:
    """The score of a model that ignores its input, on the data init can read."""

    metric: str
    value: float
    why: str


def chance_level(path: Path, target: str, task: Task) -> ChanceLevel | None:
    """The majority-class accuracy (classification) or the mean predictor's R² (regression).

    For regression the mean predictor's R² is 0 by definition, so no data is read.
    For classification the share of the most frequent class among the first
    `SAMPLE_ROWS` rows of ``path`` is the accuracy of always predicting it.
    None when the target cannot be read.
    """
    if task == "regression":
        return ChanceLevel("r2", 0.0, "R² of always predicting the mean (chance level)")
    _, sample = _sample(path, SAMPLE_ROWS)
    labels = [r.get(target, "") for r in sample]
    labels = [v for v in labels if v]
    if not labels:
        return None
    counts: dict[str, int] = {}
    for v in labels:
        counts[v] = counts.get(v, 0) + 1
    top, n = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
    share = n / len(labels)
    return ChanceLevel(
        "accuracy",
        share,
        f"accuracy of always predicting the majority class {top!r} in {path.name}"
        f" ({n} of {len(labels)} rows; chance level)",
    )


def chance_for(
    root: Path, data: str | None, eval_data: str | None, target: str | None, task: Task
) -> ChanceLevel | None:
    """The chance level of the answers' eval data (or reference data) and target."""
    if target is None:
        return None
    for rel in (eval_data, data):
        if rel and (root / rel).is_file():
            found = chance_level(root / rel, target, task)
            if found is not None:
                return found
    return chance_level(root, target, task) if task == "regression" else None
