"""vending.notify and vending.onboarding: the events the service publishes, captured through a rule to SQS."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from vending.exceptions import EventPublishFailed, InvalidRequest
from vending.lifecycle import RequestStore, Status
from vending.notify import publish_outcome
from vending.onboarding import ONBOARDING_EVENT_PATTERN, onboarding_entry, publish_rejection
from vending.request import VendingRequest, parse_request
from vending.settings import Settings


def test_publish_outcome_ready(
    reserved: RequestStore, request_: VendingRequest, published: Callable[[], list[dict[str, Any]]]
) -> None:
    # GIVEN a READY record
    record = reserved.update(
        request_.request_id,
        status=Status.READY,
        step="RecordReady",
        account_id="111122223333",
        state_bucket="tfstate-111122223333-us-east-1",
    )
    # WHEN the outcome is published
    detail_type = publish_outcome(boto3.client("events"), Settings.from_env(), record)
    # THEN "Team Account Ready" carries the account, the bucket and nothing internal
    [event] = published()
    assert detail_type == event["detail-type"] == "Team Account Ready"
    assert event["source"] == "platform.vending"
    assert event["detail"]["account_id"] == "111122223333"
    assert event["detail"]["state_bucket"] == "tfstate-111122223333-us-east-1"
    assert "history" not in event["detail"] and "request" not in event["detail"]


def test_publish_outcome_failed(
    reserved: RequestStore, request_: VendingRequest, published: Callable[[], list[dict[str, Any]]]
) -> None:
    # GIVEN a FAILED record
    record = reserved.update(
        request_.request_id,
        status=Status.FAILED,
        step="RecordFailed",
        failed_step="Bootstrap",
        failure_reason="BootstrapFailed: AccessDenied",
    )
    # WHEN the outcome is published
    publish_outcome(boto3.client("events"), Settings.from_env(), record)
    # THEN "Team Account Failed" names the step and the reason
    [event] = published()
    assert event["detail-type"] == "Team Account Failed"
    assert (event["detail"]["failed_step"], event["detail"]["failure_reason"]) == (
        "Bootstrap",
        "BootstrapFailed: AccessDenied",
    )


def test_publish_outcome_rejected_entry_raises(reserved: RequestStore, request_: VendingRequest) -> None:
    # GIVEN EventBridge rejecting the entry
    class RejectingEvents:
        def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
            return {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InternalFailure"}]}

    record = reserved.require(request_.request_id)
    # WHEN the outcome is published
    # THEN the step fails instead of losing the event
    with pytest.raises(EventPublishFailed, match="InternalFailure"):
        publish_outcome(RejectingEvents(), Settings.from_env(), record)


def test_publish_rejection_lists_errors(
    aws: None, detail: dict[str, Any], published: Callable[[], list[dict[str, Any]]]
) -> None:
    # GIVEN an invalid onboarding request
    bad = {**detail, "cost_center": "nope"}
    with pytest.raises(InvalidRequest) as caught:
        parse_request(bad)
    # WHEN its rejection is published
    publish_rejection(boto3.client("events"), Settings.from_env(), bad, caught.value)
    # THEN "Team Onboarding Rejected" carries the request and one error per bad field
    [event] = published()
    assert event["detail-type"] == "Team Onboarding Rejected"
    assert event["detail"]["request"] == bad
    assert [e["field"] for e in event["detail"]["errors"]] == ["cost_center"]


def test_onboarding_entry_matches_rule_pattern(
    detail: dict[str, Any], event_payload: Callable[[str], dict[str, Any]]
) -> None:
    # GIVEN the onboarding portal's PutEvents entry
    entry = onboarding_entry(detail)
    # WHEN compared with the rule pattern and the recorded event
    recorded = event_payload("onboarding_requested")
    # THEN the rule matches it and it carries the same detail
    assert [entry["Source"]] == ONBOARDING_EVENT_PATTERN["source"] == [recorded["source"]]
    assert [entry["DetailType"]] == ONBOARDING_EVENT_PATTERN["detail-type"] == [recorded["detail-type"]]
    assert json.loads(entry["Detail"]) == recorded["detail"]
