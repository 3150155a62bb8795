"""Where the generated workflows find mlci's own actions and the pinned third-party actions.

``mlci init`` writes ``OWNER/REPOSITORY/actions/NAME@COMMIT # vVERSION`` into every
workflow, so users never get a floating reference. The release process records
the commit of the version's tag here (``VERSION`` must equal the package version;
a test checks it); ``mlci init --action-ref`` overrides it.

Third-party actions are pinned to the full commit SHA of a release, with the tag
kept as a comment; bump them together with their tag.
"""

from __future__ import annotations

__all__ = ["COMMIT", "OWNER", "REPOSITORY", "THIRD_PARTY", "VERSION"]

OWNER = "mlci-dev"
REPOSITORY = "mlci"
VERSION = "0.1.0"
COMMIT = "5f2fba17924429de01c592d9d79d72dbfc5d642f"

#: ``action -> (full commit SHA, release tag)``: the pins the generated workflows use.
THIRD_PARTY: dict[str, tuple[str, str]] = {
    "actions/checkout": ("11bd71901bbe5b1630ceea73d27597364c9af683", "v4.2.2"),
    "actions/setup-python": ("a26af69be951a213d495a4c3e4e4022e16d87065", "v5.6.0"),
    "actions/upload-artifact": ("ea165f8d65b6e75b540449e92b4886f43607fa02", "v4.6.2"),
    "actions/download-artifact": ("d3f86a106a0bac45b974a628896c90dbdf5c8093", "v4.3.0"),
}
