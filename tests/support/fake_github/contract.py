"""GitHub's OpenAPI description: operations, request validation, conforming responses."""

from __future__ import annotations

import datetime as _dt
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

# The contract data, vendored in this repository (tests/support/github-api/, refreshed by
# its refresh.py from the npm packages @octokit/openapi and @octokit/webhooks-schemas).
GITHUB_API = Path(__file__).resolve().parents[1] / "github-api"
SPEC_PATH = GITHUB_API / "rest-subset.json"

DOCS = "https://docs.github.com/rest"
# Issue, PR and comment bodies: 422 "body is too long (maximum is 65536 characters)"
# (docs: REST "Create an issue comment").
COMMENT_BODY_LIMIT = 65536
# Check-run output.summary and output.text (docs: REST "Create a check run").
CHECK_OUTPUT_LIMIT = 65535
# Release bodies (docs: REST "Create a release"; 422 beyond 125,000 characters).
RELEASE_BODY_LIMIT = 125000
# per_page is capped at 100 (docs: "Using pagination in the REST API").
MAX_PER_PAGE = 100
_EMPTY_SHA = "0" * 40

# Which fine-grained permission an operation needs to write (first path segment after
# the repository decides). Reads only need "read", which every known token has.
_PERMISSION_BY_SEGMENT = {
    "issues": "issues",
    "pulls": "pull_requests",
    "check-runs": "checks",
    "releases": "contents",
    "git": "contents",
    "contents": "contents",
    "actions": "actions",
}
_WRITE_ALL = {
    "issues": "write",
    "pull_requests": "write",
    "checks": "write",
    "contents": "write",
    "actions": "write",
    "metadata": "read",
}


# -- the OpenAPI description -------------------------------------------------------------


@cache
def load_spec() -> dict[str, Any]:
    """GitHub's OpenAPI description of the operations mlci calls (parsed once)."""
    return dict(json.loads(SPEC_PATH.read_text(encoding="utf-8")))


def to_json_schema(schema: Any) -> Any:
    """Translate an OpenAPI 3.0 schema to JSON Schema (``nullable`` -> ``null`` allowed)."""
    if isinstance(schema, list):
        return [to_json_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {
        k: to_json_schema(v)
        for k, v in schema.items()
        if k not in {"nullable", "example", "examples", "deprecated", "x-github"}
        and not k.startswith("x-")
    }
    if "properties" in schema:
        out["properties"] = {k: to_json_schema(v) for k, v in schema["properties"].items()}
    if schema.get("nullable"):
        return {"anyOf": [out, {"type": "null"}]}
    return out


@dataclass(frozen=True)
class Operation:
    """One operation of the description, with its path template compiled."""

    method: str
    template: str
    operation_id: str
    spec: dict[str, Any]
    regex: re.Pattern[str]
    params: tuple[str, ...]
    uploads: bool

    def request_schema(self) -> dict[str, Any] | None:
        body = self.spec.get("requestBody")
        if not body:
            return None
        content = body.get("content", {})
        media = content.get("application/json")
        return to_json_schema(media["schema"]) if media else None

    def response_schema(self, status: int) -> dict[str, Any] | None:
        response = self.spec.get("responses", {}).get(str(status))
        if not response or not response.get("content"):
            return None
        content = response["content"]
        media = content.get("application/json") or next(iter(content.values()))
        return media.get("schema")


@cache
def operations() -> tuple[Operation, ...]:
    """Every operation of the description (literal paths before templated ones)."""
    ops: list[Operation] = []
    for template, item in load_spec()["paths"].items():
        for method, spec in item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            names: list[str] = []

            def _param(m: re.Match[str], names: list[str] = names) -> str:
                names.append(m.group(1))
                # {path} of contents and {ref} of git refs may contain slashes.
                return "(.+)" if m.group(1) in {"path", "ref"} else "([^/]+)"

            pattern = re.sub(r"\\\{(\w+)\\\}", _param, re.escape(template))
            uploads = any("uploads" in s.get("url", "") for s in spec.get("servers", []))
            prefix = "/uploads" if uploads else ""
            ops.append(
                Operation(
                    method.upper(),
                    template,
                    spec["operationId"],
                    spec,
                    re.compile(f"^{re.escape(prefix)}{pattern}$"),
                    tuple(names),
                    uploads,
                )
            )
    ops.sort(key=lambda o: (len(o.params), -len(o.template)))
    return tuple(ops)


def _validator(schema: dict[str, Any]) -> Any:
    import jsonschema

    return jsonschema.Draft7Validator(schema)


@cache
def _request_validator(operation_id: str) -> Any:
    op = next(o for o in operations() if o.operation_id == operation_id)
    schema = op.request_schema()
    return _validator(schema) if schema else None


@cache
def _response_validator(operation_id: str, status: int) -> Any:
    op = next(o for o in operations() if o.operation_id == operation_id)
    schema = op.response_schema(status)
    return _validator(to_json_schema(schema)) if schema else None


def response_schema(operation_id: str, status: int) -> dict[str, Any] | None:
    """The JSON Schema of an operation's response body (for tests of the fake itself)."""
    op = next(o for o in operations() if o.operation_id == operation_id)
    schema = op.response_schema(status)
    return to_json_schema(schema) if schema else None


# -- conforming responses ----------------------------------------------------------------


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def conform(schema: Any, value: Any, base: str, key: str = "value") -> Any:
    """Return ``value`` with every field the OpenAPI ``schema`` requires filled in.

    Fields the fake keeps in its state are used as they are; required fields it does
    not track are synthesised from their schema (``null`` when nullable, the first enum
    value, a URL below the fake, a timestamp, 0, false, an empty list ...).
    """
    if not isinstance(schema, dict):
        return value
    for combo in ("oneOf", "anyOf"):
        if combo in schema:
            alternatives = schema[combo]
            if value is None and schema.get("nullable"):
                return None
            if isinstance(value, dict):
                for alt in alternatives:
                    if alt.get("type", "object") == "object":
                        return conform(alt, value, base, key)
            return conform(alternatives[0], value, base, key)
    if "allOf" in schema:
        for part in schema["allOf"]:
            value = conform(part, value, base, key)
        return value
    if value is None:
        return None if schema.get("nullable") else _synth(schema, base, key)
    kind = schema.get("type")
    if kind == "object" and isinstance(value, dict):
        props = schema.get("properties", {})
        out = dict(value)
        for name in schema.get("required", []):
            if name not in out:
                out[name] = _synth(props.get(name, {}), base, name)
        for name, sub in props.items():
            if name in out:
                out[name] = conform(sub, out[name], base, name)
        return out
    if kind == "array" and isinstance(value, list):
        return [conform(schema.get("items", {}), v, base, key) for v in value]
    return value


def _synth(schema: dict[str, Any], base: str, key: str) -> Any:
    if schema.get("nullable"):
        return None
    for combo in ("oneOf", "anyOf", "allOf"):
        if combo in schema:
            return _synth(schema[combo][0], base, key)
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    kind = schema.get("type")
    fmt = schema.get("format")
    if kind == "string":
        if fmt == "date-time":
            return _now()
        if fmt == "uri" or key.endswith("url"):
            return f"{base}/_synth/{key}"
        if fmt == "email":
            return "noreply@example.invalid"
        return ""
    if kind in {"integer", "number"}:
        return schema.get("minimum", 0)
    if kind == "boolean":
        return False
    if kind == "array":
        return []
    if kind == "object" or "properties" in schema:
        return conform(schema, {}, base, key)
    return None
