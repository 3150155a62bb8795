"""Webhook event payloads for act, filled in and checked against GitHub's webhook schemas."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import jsonschema

from tests.support.fake_github import SPEC_PATH

#: ``@octokit/webhooks-schemas`` (vendored; see tests/support/github-api/README.md).
WEBHOOKS_PATH = SPEC_PATH.parent / "webhooks-schema.json"

#: The event definitions the four generated workflows are triggered by.
DEFINITIONS = {
    "pull_request": "pull_request$opened",
    "workflow_run": "workflow_run$completed",
    "push": "push$event",
    "workflow_dispatch": "workflow_dispatch$event",
}


@cache
def _webhooks() -> dict[str, Any]:
    return dict(json.loads(WEBHOOKS_PATH.read_text(encoding="utf-8")))


def _validator(definition: str) -> jsonschema.Draft7Validator:
    doc = _webhooks()
    schema = {"$ref": f"#/definitions/{definition}", "definitions": doc["definitions"]}
    return jsonschema.Draft7Validator(schema)


def _resolve(schema: Any) -> Any:
    while isinstance(schema, dict) and "$ref" in schema:
        name = schema["$ref"].removeprefix("#/definitions/")
        schema = _webhooks()["definitions"][name]
    return schema


def _valid(schema: Any, value: Any) -> bool:
    validator = jsonschema.Draft7Validator(
        {**schema, "definitions": _webhooks()["definitions"]}
        if isinstance(schema, dict)
        else schema
    )
    return bool(validator.is_valid(value))


def fill(schema: Any, value: Any = None, key: str = "value") -> Any:
    """``value`` with every field ``schema`` requires filled in with a plausible value.

    Fields the test gives are kept as they are (and must be valid themselves); the rest
    is synthesised: ``null`` where allowed, the first enum value, 0, false, "", [].
    """
    schema = _resolve(schema)
    if not isinstance(schema, dict):
        return value
    if "allOf" in schema:
        parts = [_resolve(part) for part in schema["allOf"]]
        if value is None and any(_only_null(part) for part in parts):
            return None
        for part in reversed(parts):  # the narrowing parts come last
            value = fill(part, value, key)
        return value
    for combo in ("oneOf", "anyOf"):
        if combo in schema:
            if _valid(schema, value):
                return value
            candidates = [fill(alt, value, key) for alt in schema[combo]]
            for candidate in candidates:
                if _valid(schema, candidate):
                    return candidate
            return candidates[0]
    kinds = schema.get("type", "object" if "properties" in schema else None)
    kinds = kinds if isinstance(kinds, list) else [kinds]
    if value is None and ("null" in kinds or None in schema.get("enum", [0])):
        return None
    if "const" in schema:
        return schema["const"] if value is None else value
    if "enum" in schema:
        return schema["enum"][0] if value is None else value
    if value is None:
        kind = kinds[0]
        if kind == "object":
            value = {}
        elif kind == "array":
            return []
        elif kind == "string":
            return _string(schema, key)
        elif kind in ("integer", "number"):
            return schema.get("minimum", 1)
        elif kind == "boolean":
            return False
        else:
            return None
    if isinstance(value, dict) and "object" in kinds:
        props = schema.get("properties", {})
        out = dict(value)
        for name in schema.get("required", []):
            if name not in out:
                out[name] = fill(props.get(name, {}), None, name)
        for name, sub in props.items():
            if name in out:
                out[name] = fill(sub, out[name], name)
        return out
    if isinstance(value, list) and "array" in kinds:
        return [fill(schema.get("items", {}), v, key) for v in value]
    return value


def _only_null(schema: Any) -> bool:
    return isinstance(schema, dict) and schema.get("type") == "null"


def _string(schema: dict[str, Any], key: str) -> str:
    fmt = schema.get("format")
    if fmt == "date-time":
        return "2026-01-01T00:00:00Z"
    if fmt in ("uri", "uri-template") or key.endswith("url"):
        return f"https://github.invalid/{key}"
    if fmt == "email":
        return "noreply@example.invalid"
    return ""


def event(event_name: str, given: dict[str, Any]) -> dict[str, Any]:
    """A complete payload of ``event_name`` around ``given``, valid by GitHub's schema.

    Raises:
        AssertionError: with the schema errors when the payload does not validate.
    """
    definition = DEFINITIONS[event_name]
    payload = fill({"$ref": f"#/definitions/{definition}"}, given)
    errors = sorted(_validator(definition).iter_errors(payload), key=lambda e: list(e.path))
    assert not errors, f"{definition} payload invalid:\n" + "\n".join(
        f"{list(e.path)}: {e.message[:300]}" for e in errors[:10]
    )
    return dict(payload)
