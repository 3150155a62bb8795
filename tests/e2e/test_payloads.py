"""The webhook payload builder of the end-to-end tests: complete, and checked by GitHub's schemas."""

from __future__ import annotations

import pytest

from tests.e2e import payloads


@pytest.mark.parametrize("event_name", sorted(payloads.DEFINITIONS))
def test_an_empty_payload_is_completed_to_a_valid_one(event_name: str) -> None:
    event = payloads.event(event_name, {})
    assert payloads._validator(payloads.DEFINITIONS[event_name]).is_valid(event)


def test_given_fields_are_kept() -> None:
    event = payloads.event(
        "pull_request", {"number": 7, "pull_request": {"number": 7, "head": {"sha": "f" * 40}}}
    )
    assert event["action"] == "opened" and event["number"] == 7
    assert event["pull_request"]["head"]["sha"] == "f" * 40
    assert event["pull_request"]["merged_by"] is None  # opened: the schema demands null


def test_a_payload_github_would_not_send_is_refused() -> None:
    with pytest.raises(AssertionError, match=r"\['number'\]: 'seven' is not of type 'integer'"):
        payloads.event("pull_request", {"number": "seven"})
    with pytest.raises(AssertionError, match="default_branch' was unexpected"):
        payloads.event("workflow_run", {"workflow_run": {"repository": {"default_branch": "main"}}})
