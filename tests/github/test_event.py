"""The event payload: read through jsonio, checked against the fields mlci reads.

The declarations in `mlci.github.event` are checked against GitHub's own webhook schemas
(``@octokit/webhooks-schemas``, vendored in tests/support/github-api/), and every real
example payload of the events the generated workflows run on (``@octokit/webhooks-examples``)
must pass them.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from mlci.cli import main
from mlci.errors import InputError
from mlci.github import event as event_mod
from mlci.github.event import EventPayload, read_event, validate_event
from mlci.github.runtime import Runtime
from mlci.limits import Limit
from mlci.typedload import json_schema
from tests.support import webhooks

API = Path(__file__).resolve().parents[1] / "support" / "github-api"
SHA = "a" * 40

#: Which webhook schema definition holds each top-level field mlci reads.
DEFINITION_OF = {
    "pull_request": "pull_request$opened",
    "workflow_run": "workflow_run$completed",
    "head_commit": "push$event",
    "inputs": "workflow_dispatch$event",
}


@cache
def _official() -> dict[str, Any]:
    return dict(json.loads((API / "webhooks-schema.json").read_text(encoding="utf-8")))


def _examples() -> list[tuple[str, dict[str, Any]]]:
    every = json.loads((API / "webhooks-examples.json").read_text(encoding="utf-8"))
    return [
        (f"{entry['name']}-{i}", example)
        for entry in every
        for i, example in enumerate(entry["examples"])
    ]


EXAMPLES = _examples()


def _write(tmp_path: Path, payload: Any) -> Runtime:
    path = tmp_path / "event.json"
    path.write_text(payload if isinstance(payload, str) else json.dumps(payload))
    return Runtime(env={"GITHUB_EVENT_PATH": str(path)})


# -- real payloads pass ----------------------------------------------------------------------


def test_the_vendored_examples_cover_every_event_kind_mlci_reads() -> None:
    kinds = {name.rsplit("-", 1)[0] for name, _ in EXAMPLES}
    assert {"pull_request", "push", "workflow_run", "workflow_dispatch"} <= kinds


@pytest.mark.parametrize(("name", "example"), EXAMPLES, ids=[n for n, _ in EXAMPLES])
def test_every_real_example_passes(name: str, example: dict[str, Any], tmp_path: Path) -> None:
    assert read_event(_write(tmp_path, example)) == example


class _Fake:
    repo = "octo/ml-project"
    url = "https://api.github.com"
    server_url = "https://github.com"


@pytest.mark.parametrize("fork", [None, "alice/ml-project"])
def test_workflow_runs_of_pull_requests_pass(fork: str | None, tmp_path: Path) -> None:
    payload = webhooks.workflow_run_completed(
        _Fake(), run_id=7, head_sha=SHA, head_repo=fork, pull_numbers=[3]
    )
    typed = validate_event(payload, source="e.json")
    assert typed.workflow_run is not None and typed.workflow_run.head_sha == SHA
    assert [p.number for p in typed.workflow_run.pull_requests] == ([] if fork else [3])


def test_a_schedule_payload_passes() -> None:
    # docs: "Events that trigger workflows", schedule: the payload names the cron.
    typed = validate_event({"schedule": "17 3 * * 1", "repository": {}}, source="e.json")
    assert typed.schedule == "17 3 * * 1"


def test_no_event_file_is_an_empty_event() -> None:
    assert read_event(Runtime(env={})) == {}


# -- the declarations agree with GitHub's schemas ------------------------------------------


def _alternatives(node: Any) -> list[dict[str, Any]]:
    """The schemas ``node`` allows, with ``$ref`` resolved and ``allOf`` merged."""
    if not isinstance(node, dict):
        return []
    if "$ref" in node:
        name = node["$ref"].removeprefix("#/definitions/")
        return _alternatives(_official()["definitions"][name])
    for key in ("oneOf", "anyOf"):
        if key in node:
            return [alt for sub in node[key] for alt in _alternatives(sub)]
    if "allOf" in node:
        merged: dict[str, Any] = {"properties": {}, "required": []}
        for sub in node["allOf"]:
            for alt in _alternatives(sub):
                for prop, schema in alt.get("properties", {}).items():
                    merged["properties"].setdefault(prop, {"allOf": []})["allOf"].append(schema)
                merged["required"] += alt.get("required", [])
                for key in ("type", "items"):
                    if key in alt:
                        merged.setdefault(key, alt[key])
        return [merged]
    return [node]


def _types(alts: list[dict[str, Any]]) -> set[str]:
    found: set[str] = set()
    for alt in alts:
        kind = alt.get("type")
        found |= set(kind) if isinstance(kind, list) else {kind} if kind else set()
    return found


_COMPATIBLE = {"integer": {"integer", "number"}, "string": {"string"}, "object": {"object"}}
_COMPATIBLE["array"] = {"array"}


def _disagreements(ours: dict[str, Any], official: Any, defs: dict[str, Any], at: str) -> list[str]:
    """Where a payload valid for ``official`` could be refused by ``ours``, or vice versa."""
    nullable = False
    if "anyOf" in ours:
        nullable = any(s.get("type") == "null" for s in ours["anyOf"])
        ours = next(s for s in ours["anyOf"] if s.get("type") != "null")
    if "$ref" in ours:
        ours = defs[ours["$ref"].removeprefix("#/$defs/")]
    alts = _alternatives(official)
    types = _types(alts)
    problems = []
    if "null" in types and not nullable:
        problems.append(f"{at}: GitHub may send null, mlci refuses it")
    if not ours:
        return problems  # Any
    if not types & _COMPATIBLE[ours["type"]]:
        problems.append(f"{at}: mlci wants {ours['type']}, GitHub sends {sorted(types)}")
        return problems
    objects = [a for a in alts if a.get("type") == "object" or "properties" in a]
    if ours["type"] == "object" and "properties" in ours:
        required = {r for a in objects for r in a.get("required", [])}
        for name, sub in ours["properties"].items():
            found = [a["properties"][name] for a in objects if name in a.get("properties", {})]
            if not found:
                problems.append(f"{at}.{name}: not in GitHub's schema")
                continue
            if name in ours.get("required", []) and name not in required:
                problems.append(f"{at}.{name}: mlci requires it, GitHub may leave it out")
            problems += _disagreements(sub, {"anyOf": found}, defs, f"{at}.{name}")
    if ours["type"] == "array":
        items = [a["items"] for a in alts if "items" in a]
        problems += _disagreements(ours["items"], {"anyOf": items}, defs, f"{at}[]")
    return problems


def test_every_field_mlci_reads_is_in_githubs_schema_with_its_type() -> None:
    schema = json_schema(EventPayload, title="event")
    defs = schema["$defs"]
    problems = []
    for field, definition in DEFINITION_OF.items():
        official = _official()["definitions"][definition]
        assert field in official["properties"], (field, definition)
        ours = schema["properties"][field]
        problems += _disagreements(ours, official["properties"][field], defs, field)
    # `schedule` is no webhook (GitHub's schemas do not describe it); see the test above.
    assert set(schema["properties"]) == {*DEFINITION_OF, "schedule"}
    assert problems == []


def test_the_schema_check_sees_a_disagreement() -> None:
    ours = {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]}
    official = {"type": "object", "properties": {"id": {"type": "integer"}}}
    assert _disagreements(ours, official, {}, "x") == [
        "x.id: mlci requires it, GitHub may leave it out",
        "x.id: mlci wants string, GitHub sends ['integer']",
    ]


# -- bad payloads: exit 2 naming the file and the field ---------------------------------------

BAD = [
    ({"workflow_run": {"id": "7", "head_sha": SHA}}, "workflow_run.id: expected a whole number"),
    ({"workflow_run": {"id": 7, "head_sha": SHA, "pull_requests": {}}}, "pull_requests"),
    ({"workflow_run": {"id": 7, "head_sha": "HEAD"}}, "workflow_run.head_sha: 'HEAD' is not a"),
    ({"workflow_run": {"head_sha": SHA}}, "workflow_run: missing required key 'id'"),
    ({"workflow_run": []}, "workflow_run: expected a mapping, got a list"),
    (
        {"workflow_run": {"id": 7, "head_sha": SHA, "head_repository": {"owner": 1}}},
        "workflow_run.head_repository",
    ),
    ({"pull_request": {"number": 0, "head": {"sha": SHA}}}, "pull_request.number: expected"),
    ({"pull_request": {"number": 1, "head": {"sha": ["x"]}}}, "pull_request.head.sha"),
    ({"head_commit": {"message": {"a": 1}}}, "head_commit.message: expected a string"),
    ({"inputs": ["x"]}, "inputs: expected a mapping"),
    ([1, 2], "expected a JSON object, got a list"),
    ('{"workflow_run": {"id": NaN}}', "NaN is not valid JSON"),
    ("[" * 200 + "]" * 200, "nested more than 64 levels"),
]


@pytest.mark.parametrize(("payload", "says"), BAD, ids=[s for _, s in BAD])
def test_a_bad_payload_names_the_file_and_the_field(
    payload: Any, says: str, tmp_path: Path
) -> None:
    with pytest.raises(InputError) as info:
        read_event(_write(tmp_path, payload))
    message = str(info.value)
    assert message.startswith(str(tmp_path / "event.json")), message
    assert says in message
    assert "Webhook events and payloads" in message  # the fix


def test_a_payload_over_the_size_limit_is_refused_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(event_mod, "EVENT_MAX_BYTES", Limit(100, "event payload"))
    with pytest.raises(InputError, match="event payload"):
        read_event(_write(tmp_path, {"pad": "x" * 200}))


def test_a_missing_event_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="event.json"):
        read_event(Runtime(env={"GITHUB_EVENT_PATH": str(tmp_path / "event.json")}))


def test_the_report_command_refuses_a_bad_event_with_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "results"
    results.mkdir()
    (results / "data.json").write_text(
        json.dumps(
            {"schema_version": 1, "kind": "data", "passed": True, "findings": [], "provenance": {}}
        )
    )
    event = _write(tmp_path, {"workflow_run": {"id": 5, "head_sha": SHA, "head_branch": [3]}})
    monkeypatch.setenv("GITHUB_EVENT_PATH", event.event_path or "")
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    code = main(["report", "--results", str(results), "-q", "--check-run", "--repo", "o/r"])
    err = capsys.readouterr().err
    assert code == 2
    assert f"{tmp_path / 'event.json'}: workflow_run.head_branch: expected a string" in err
    assert "Traceback" not in err


CORPUS = sorted((Path(__file__).resolve().parents[1] / "fuzz" / "corpus" / "event").glob("*.json"))


@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_every_hostile_payload_of_the_fuzz_corpus_is_refused_by_field(path: Path) -> None:
    runtime = Runtime(env={"GITHUB_EVENT_PATH": str(path)})
    with pytest.raises(InputError) as info:
        read_event(runtime)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    field = message.removeprefix(f"{path}: ").split(":", 1)[0]
    assert field.split(".")[0].split("[")[0] in {
        "workflow_run",
        "pull_request",
        "head_commit",
        "inputs",
        "schedule",
    }, message


def test_the_payloads_the_act_runs_send_pass() -> None:
    from tests.e2e.test_workflows import _pr_event, _workflow_run_event

    assert validate_event(_pr_event(9, SHA), source="pr").pull_request is not None
    pull = {"head": {"sha": "b" * 40}, "id": 1, "number": 2, "url": "https://x.invalid/p/2"}
    run = validate_event(_workflow_run_event(5, pull, "success"), source="run").workflow_run
    assert run is not None and [p.number for p in run.pull_requests] == [2]
