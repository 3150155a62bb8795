"""Generated inputs: whatever the bytes, readers answer with a value or exit 2, never a bug.

Each property feeds one reader: the YAML loader and the config and schema models,
the strict JSON reader, results documents, registry metadata, event payloads and
version arguments. Run more examples with ``MLCI_FUZZ_EXAMPLES=2000 pytest tests/fuzz``.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from mlci import jsonio
from mlci.config import load_config_text
from mlci.errors import MlciError
from mlci.github.event import validate_event
from mlci.registry.base import check_metadata, parse_version_ref
from mlci.results import validate_document
from mlci.yamlio import load_with_marks
from tests.fuzz.harness import run_surface

# Scalars YAML 1.1 reads in surprising ways, and numbers at the edges of every range.
YAML_WORDS = [
    "off",
    "on",
    "yes",
    "no",
    "y",
    "n",
    "null",
    "~",
    "true",
    "False",
    "NULL",
    ".nan",
    ".inf",
    "-.inf",
    "0x1F",
    "0o17",
    "010",
    "1_000",
    "1e3",
    "1.0e+400",
    "9" * 60,
    "-" + "9" * 30,
    "2024-02-30",
    "2024-13-45",
    "2024-01-31",
    "2024-01-31T25:61:00Z",
    "12:30:00",
    "<<",
    "*a",
    "&a",
    "!!python/object:os.system",
    "!custom",
    "'quoted'",
    '"dq"',
    "|",
    ">",
    "{",
    "[",
    "]",
    "}",
    "#",
    ":",
    "- ",
    "? ",
    "%YAML 1.1",
    "---",
    "...",
    "\x00",
    "\t",
    "\u202e",
    "é",
]
CONFIG_KEYS = [
    "version",
    "task",
    "data",
    "model",
    "registry",
    "deploy",
    "retrain",
    "monitor",
    "report",
    "target",
    "checks",
    "drift",
    "severity",
    "columns",
    "gates",
    "accuracy",
    "min",
    "max",
    "bootstrap",
    "resamples",
    "seed",
    "chunk_rows",
    "id_columns",
    "share",
    "threshold",
    "null",
    "true",
    "off",
    "2024-02-30",
]

yaml_scalar = st.one_of(
    st.sampled_from(YAML_WORDS),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(max_size=12),
)


def _yaml_lines(depth: int) -> st.SearchStrategy[str]:
    key = st.one_of(st.sampled_from(CONFIG_KEYS), yaml_scalar)
    leaf = st.builds(lambda k, v: f"{k}: {v}", key, yaml_scalar)
    if depth == 0:
        return leaf
    nested = st.builds(
        lambda k, body: f"{k}:\n" + "\n".join("  " + line for line in body.splitlines()),
        key,
        _yaml_lines(depth - 1),
    )
    flow = st.builds(lambda k, items: f"{k}: [{', '.join(items)}]", key, st.lists(yaml_scalar))
    return st.one_of(leaf, nested, flow)


yaml_docs = st.lists(_yaml_lines(3), max_size=8).map(lambda lines: "\n".join(lines) + "\n")


@given(st.one_of(yaml_docs, st.text(max_size=300)))
def test_yaml_loader_never_crashes(text: str) -> None:
    try:
        load_with_marks(text, "f.yaml")
    except MlciError:
        pass


@given(yaml_docs)
def test_config_model_never_crashes(body: str) -> None:
    try:
        load_config_text("version: 1\ntask: classification\n" + body)
    except MlciError as exc:
        assert str(exc).startswith("mlci.yaml")


json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(10**25), max_value=10**25),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=20),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=5), st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=40,
)


@given(st.one_of(st.text(max_size=200), json_values.map(json.dumps)))
def test_json_reader_never_crashes(text: str) -> None:
    try:
        jsonio.loads(text, source="f.json")
    except MlciError:
        pass


FINDING_KEYS = ["check", "severity", "message", "column", "metric", "count", "fraction", "samples"]
MODEL_KEYS = ["metrics", "baseline_metrics", "blessing", "gates", "deltas", "history", "rows"]


def _documents() -> st.SearchStrategy[dict[str, Any]]:
    envelope = st.fixed_dictionaries(
        {
            "schema_version": st.one_of(st.just(1), json_values),
            "kind": st.one_of(
                st.sampled_from(["data", "model", "deploy", "retrain", "monitor"]), json_values
            ),
            "passed": st.one_of(st.booleans(), json_values),
            "findings": st.one_of(
                st.lists(
                    st.dictionaries(st.sampled_from(FINDING_KEYS), json_values, max_size=6),
                    max_size=4,
                ),
                json_values,
            ),
            "provenance": st.one_of(
                st.dictionaries(st.sampled_from(["git_sha", "run_url"]), json_values), json_values
            ),
        }
    )
    extra = st.dictionaries(
        st.sampled_from(MODEL_KEYS + ["drift", "counts"]), json_values, max_size=4
    )
    return st.builds(lambda e, x: {**e, **x}, envelope, extra)


@given(_documents())
def test_results_validation_never_crashes(doc: dict[str, Any]) -> None:
    try:
        validate_document(doc, source="data.json")
    except MlciError as exc:
        assert str(exc).startswith("data.json: ")


@given(
    st.dictionaries(
        st.sampled_from(
            [
                "version",
                "model_file",
                "onnx_file",
                "metrics",
                "blessing",
                "hashes",
                "features",
                "created",
            ]
        ),
        json_values,
    )
)
def test_registry_metadata_check_never_crashes(meta: dict[str, Any]) -> None:
    try:
        check_metadata(1, meta, "registry r")
    except MlciError as exc:
        assert str(exc).startswith("registry r: version 1: ")


@given(
    st.one_of(
        st.text(max_size=40),
        st.integers(min_value=0).map(str),
        st.text(alphabet="0123456789v", max_size=5000),
    )
)
def test_version_refs_never_crash(ref: str) -> None:
    try:
        parse_version_ref(ref)
    except MlciError as exc:
        assert len(str(exc)) < 400


@given(_documents())
def test_report_command_on_generated_documents(doc: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        outcome = run_surface("results", json.dumps(doc).encode(), Path(tmp) / "case")
    assert not outcome.problems(), (outcome.problems(), outcome.err[-2000:])


def _events() -> st.SearchStrategy[dict[str, Any]]:
    """Payloads around the fields mlci reads, each field well-formed or anything."""
    sha = st.one_of(st.just("a" * 40), st.text(alphabet="0123456789abcdef", max_size=64))
    head = st.one_of(st.fixed_dictionaries({"sha": sha}), json_values)
    pull = st.one_of(st.fixed_dictionaries({"number": st.integers(), "head": head}), json_values)
    owner = st.one_of(st.fixed_dictionaries({"login": st.text(max_size=8)}), json_values)
    repo = st.one_of(
        st.fixed_dictionaries({"full_name": st.text(max_size=12), "owner": owner}), json_values
    )
    run = st.fixed_dictionaries(
        {"id": st.one_of(st.integers(), json_values), "head_sha": sha},
        optional={
            "head_branch": st.one_of(st.text(max_size=12), json_values),
            "head_repository": repo,
            "pull_requests": st.one_of(st.lists(pull, max_size=3), json_values),
        },
    )
    return st.fixed_dictionaries(
        {},
        optional={
            "pull_request": pull,
            "workflow_run": st.one_of(run, json_values),
            "head_commit": st.one_of(
                st.fixed_dictionaries({"message": st.text(max_size=20)}), json_values
            ),
            "inputs": json_values,
            "schedule": json_values,
            "action": json_values,
        },
    )


@given(_events())
def test_event_payload_validation_never_crashes(payload: dict[str, Any]) -> None:
    try:
        validate_event(payload, source="event.json")
    except MlciError as exc:
        assert str(exc).startswith("event.json: ")


_JSONL_KEYS = st.sampled_from(["a", "b", "target", "c", ""])
_jsonl_lines = st.one_of(
    st.dictionaries(_JSONL_KEYS, json_values, max_size=4).map(json.dumps),
    st.sampled_from(["", "{}", "[]", "null", '{"a": NaN}', '{"a": 1e999}', "{", '"x"']),
    st.text(max_size=30),
)


@given(st.lists(_jsonl_lines, min_size=1, max_size=12))
def test_validate_data_on_generated_json_lines(lines: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = ("\n".join(lines) + "\n").encode("utf-8", errors="surrogatepass")
        outcome = run_surface("jsonl-data", data, Path(tmp) / "case")
    assert not outcome.problems(), (outcome.problems(), outcome.err[-2000:])
