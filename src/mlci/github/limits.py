"""GitHub's size limits on the texts mlci sends, defined once.

Issue, pull request and comment bodies are refused over 65,536 characters (422,
"body is too long (maximum is 65536 characters)"); a check run's ``output.summary``
and ``output.text`` over 65,535 characters
(https://docs.github.com/en/rest/checks/runs#create-a-check-run).
"""

from __future__ import annotations

__all__ = ["BODY_LIMIT", "CHECK_TEXT_LIMIT"]

#: Issue, pull request and issue comment bodies.
BODY_LIMIT = 65_536
#: A check run's output summary and text.
CHECK_TEXT_LIMIT = 65_535
