"""Where the generated workflows find mlci's action and the pinned third-party actions.

``mlci init`` writes ``OWNER/REPOSITORY@COMMIT # vVERSION`` (mlci's one action, with
``command: NAME``) into every workflow, so users never get a floating reference;
``mlci init --action-ref`` overrides it. ``COMMIT`` is a commit of this repository
that holds the action with every input and output the workflow templates use
(``tests/test_release.py`` reads it with ``git show``). A commit cannot name itself,
so a release records the commit just before the one it tags, whose action is the
same (RELEASING.md; ``.ci/check-release`` checks it). ``VERSION`` must equal the
package version. Until the first release ``TAGGED`` is false and ``mlci init`` says
the pin is a pre-release commit.

Third-party actions are pinned to the full commit SHA of a release, with the tag
kept as a comment; bump them together with their tag.
"""

from __future__ import annotations

__all__ = ["COMMIT", "OWNER", "REPOSITORY", "TAGGED", "THIRD_PARTY", "VERSION"]

OWNER = "mlci-dev"
REPOSITORY = "mlci"
VERSION = "0.1.0"
COMMIT = "e7583cbbcef6f7b35244313ab8790da3f1b71523"
#: Whether ``COMMIT`` belongs to a tagged release (False: a pre-release commit of main).
TAGGED = False

#: ``action -> (full commit SHA, release tag)``: the pins the generated workflows use.
THIRD_PARTY: dict[str, tuple[str, str]] = {
    "actions/checkout": ("11bd71901bbe5b1630ceea73d27597364c9af683", "v4.2.2"),
    "actions/setup-python": ("a26af69be951a213d495a4c3e4e4022e16d87065", "v5.6.0"),
    "actions/upload-artifact": ("ea165f8d65b6e75b540449e92b4886f43607fa02", "v4.6.2"),
    "actions/download-artifact": ("d3f86a106a0bac45b974a628896c90dbdf5c8093", "v4.3.0"),
}
