"""Refresh the GitHub contract data in this folder from the npm registry.

Usage: ``python tests/support/github-api/refresh.py [--openapi VERSION] [--webhooks VERSION]``
(needs ``npm`` on PATH; the versions default to the ones recorded in ``README.md``).

- ``rest-subset.json``: GitHub's REST API description from ``@octokit/openapi``
  (``generated/api.github.com.deref.json``, ``$ref``s already resolved), reduced to the
  operations in `OPERATIONS` (the ones mlci calls and the fake GitHub serves), with the
  prose removed (``description``, ``summary``, ``example(s)``, ``externalDocs``,
  ``x-github``). To serve a new endpoint in the fake, add its ``operationId`` and run
  this script.
- ``webhooks-schema.json``: ``schema.json`` of ``@octokit/webhooks-schemas``, as is.
- ``webhooks-examples.json``: ``api.github.com/index.json`` of
  ``@octokit/webhooks-examples``, reduced to the events in `EXAMPLE_EVENTS`.

All three packages are MIT licensed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OPENAPI_VERSION = "23.0.2"
WEBHOOKS_VERSION = "7.6.1"

#: The REST operations kept, by operationId.
OPERATIONS = (
    "repos/get",
    "issues/list-comments",
    "issues/create-comment",
    "issues/get-comment",
    "issues/update-comment",
    "issues/delete-comment",
    "checks/create",
    "checks/get",
    "checks/update",
    "repos/list-pull-requests-associated-with-commit",
    "pulls/list",
    "pulls/create",
    "pulls/get",
    "pulls/update",
    "repos/list-releases",
    "repos/create-release",
    "repos/get-latest-release",
    "repos/get-release-by-tag",
    "repos/get-release",
    "repos/update-release",
    "repos/delete-release",
    "repos/list-release-assets",
    "repos/upload-release-asset",
    "repos/get-release-asset",
    "repos/update-release-asset",
    "repos/delete-release-asset",
    "git/get-ref",
    "git/create-ref",
    "git/update-ref",
    "git/delete-ref",
    "git/create-blob",
    "git/get-blob",
    "git/create-tree",
    "git/get-tree",
    "git/create-commit",
    "git/get-commit",
    "repos/compare-commits",
    "repos/get-content",
    "repos/create-or-update-file-contents",
    "actions/create-workflow-dispatch",
    "actions/get-workflow-run",
    "actions/list-workflow-run-artifacts",
    "actions/download-artifact",
    "issues/list-for-repo",
    "issues/create",
    "issues/get",
    "issues/update",
    "rate-limit/get",
)

#: The webhook events whose example payloads are kept.
EXAMPLE_EVENTS = ("pull_request", "push", "workflow_dispatch", "workflow_run", "schedule")

_PROSE = {"description", "summary", "example", "examples", "externalDocs", "x-github"}


def strip_prose(node: Any, *, names: bool = False) -> Any:
    """``node`` without prose keywords; ``names`` marks a dict whose keys are names."""
    if isinstance(node, list):
        return [strip_prose(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if not names and key in _PROSE:
            continue
        # The keys of these are names (a property may be called "description").
        out[key] = strip_prose(value, names=key in ("properties", "patternProperties"))
    return out


def subset(spec: dict[str, Any], operations: tuple[str, ...] = OPERATIONS) -> dict[str, Any]:
    """The OpenAPI document reduced to ``operations`` (every one must exist)."""
    wanted = set(operations)
    paths: dict[str, Any] = {}
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if isinstance(op, dict) and op.get("operationId") in wanted:
                paths.setdefault(path, {})[method] = strip_prose(op)
                wanted.discard(op["operationId"])
    if wanted:
        raise SystemExit(f"operations not in the API description: {', '.join(sorted(wanted))}")
    info = spec["info"]
    return {
        "openapi": spec["openapi"],
        "info": {
            "title": info["title"],
            "version": info["version"],
            "note": (
                "Subset of GitHub's official REST API description (npm package"
                " @octokit/openapi, MIT), operations mlci calls, descriptions removed."
            ),
        },
        "servers": [{"url": "https://api.github.com"}],
        "paths": paths,
    }


def npm_package(name: str, version: str, dest: Path) -> Path:
    """Download and unpack ``name@version`` with ``npm pack``; return its folder."""
    done = subprocess.run(
        ["npm", "pack", "--silent", f"{name}@{version}"],
        cwd=dest,
        check=True,
        capture_output=True,
        text=True,
    )
    tarball = dest / done.stdout.strip().splitlines()[-1]
    folder = dest / tarball.stem
    with tarfile.open(tarball) as tar:
        tar.extractall(folder, filter="data")
    return folder / "package"


def _write(path: Path, document: Any) -> None:
    path.write_text(json.dumps(document, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {path.relative_to(HERE.parents[2])} ({path.stat().st_size:,} bytes)")


def main() -> None:
    """Download the packages and rewrite the files of this folder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--openapi", default=OPENAPI_VERSION, help="@octokit/openapi version")
    parser.add_argument("--webhooks", default=WEBHOOKS_VERSION, help="webhooks-* version")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        openapi = npm_package("@octokit/openapi", args.openapi, work)
        spec = json.loads(
            (openapi / "generated" / "api.github.com.deref.json").read_text(encoding="utf-8")
        )
        _write(HERE / "rest-subset.json", subset(spec))
        schemas = npm_package("@octokit/webhooks-schemas", args.webhooks, work)
        _write(
            HERE / "webhooks-schema.json",
            json.loads((schemas / "schema.json").read_text(encoding="utf-8")),
        )
        examples = npm_package("@octokit/webhooks-examples", args.webhooks, work)
        every = json.loads((examples / "api.github.com" / "index.json").read_text("utf-8"))
        _write(
            HERE / "webhooks-examples.json",
            [e for e in every if e.get("name") in EXAMPLE_EVENTS],
        )


if __name__ == "__main__":
    main()
