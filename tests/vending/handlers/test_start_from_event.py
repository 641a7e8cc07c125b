"""StartFromEvent: EventBridge -> SQS -> handler -> state machine; malformed requests are rejected, not retried."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from vending.context import Context
from vending.handlers import start_from_event
from vending.request import parse_request

# Every outcome emits a metric: an empty flush (powertools' "No application metrics to publish") fails these tests.
pytestmark = pytest.mark.filterwarnings("error:No application metrics to publish:UserWarning")

Payload = Callable[[str], dict[str, Any]]


def _sqs_event(event_payload: Payload, **detail_changes: Any) -> dict[str, Any]:
    """The recorded SQS record, with its EventBridge body changed as asked."""
    sqs = event_payload("onboarding_sqs")
    body = json.loads(sqs["Records"][0]["body"])
    body["detail"].update(detail_changes)
    sqs["Records"][0]["body"] = json.dumps(body)
    return sqs


def _executions(state_machine: str) -> list[str]:
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    return [e["name"] for e in sfn.list_executions(stateMachineArn=state_machine)["executions"]]


@pytest.fixture
def entry(ddb: Any, org: Any, state_machine: str) -> str:
    """GIVEN the tables, the organization and the state machine the entry point starts."""
    return state_machine


def test_start_from_event_sqs_record_wraps_recorded_event(event_payload: Payload) -> None:
    # GIVEN the two recorded payloads
    # WHEN the SQS body is read
    # THEN it is the EventBridge event, as the rule delivers it
    assert json.loads(event_payload("onboarding_sqs")["Records"][0]["body"]) == event_payload("onboarding_requested")


def test_start_from_event_valid_event_starts_execution(
    entry: str, event_payload: Payload, lambda_context: Any, published: Callable[[], list[dict[str, Any]]]
) -> None:
    # GIVEN a valid onboarding event delivered through SQS
    # WHEN the handler runs
    result = start_from_event.handler(event_payload("onboarding_sqs"), lambda_context)
    # THEN no record failed, execution a1 was started with the request, and nothing was rejected
    assert result == {"batchItemFailures": []}
    assert _executions(entry) == ["vend-team-mlops-staging-a1"]
    assert published() == []


def test_start_from_event_malformed_is_rejected(
    entry: str, event_payload: Payload, lambda_context: Any, published: Callable[[], list[dict[str, Any]]]
) -> None:
    # GIVEN an onboarding event with two bad fields
    event = _sqs_event(event_payload, gpu_tier="quantum", regions=["us-east-1", "us-east-1"])
    # WHEN the handler runs
    result = start_from_event.handler(event, lambda_context)
    # THEN the record is consumed (not retried), no execution starts, and the rejection names both fields
    assert result == {"batchItemFailures": []}
    assert _executions(entry) == []
    [rejection] = published()
    assert rejection["detail-type"] == "Team Onboarding Rejected"
    assert rejection["source"] == "platform.vending"
    assert {e["field"] for e in rejection["detail"]["errors"]} == {"gpu_tier", "regions"}
    assert rejection["detail"]["request"]["team"] == "team-mlops"


def test_start_from_event_other_detail_type_is_ignored(
    entry: str, event_payload: Payload, lambda_context: Any, published: Callable[[], list[dict[str, Any]]]
) -> None:
    # GIVEN another event on the same queue
    event = event_payload("onboarding_sqs")
    body = json.loads(event["Records"][0]["body"])
    body["detail-type"] = "Team Offboarding Requested"
    event["Records"][0]["body"] = json.dumps(body)
    # WHEN the handler runs
    result = start_from_event.handler(event, lambda_context)
    # THEN it is consumed without starting or publishing anything
    assert result == {"batchItemFailures": []}
    assert _executions(entry) == []
    assert published() == []


def test_start_from_event_duplicate_while_running(entry: str, event_payload: Payload, lambda_context: Any) -> None:
    # GIVEN an onboarding event already handled and its execution holding the reservation
    start_from_event.handler(event_payload("onboarding_sqs"), lambda_context)
    Context().store.reserve(
        parse_request(event_payload("onboarding_requested")["detail"]), "vend-team-mlops-staging-a1"
    )
    # WHEN the same event is delivered again
    result = start_from_event.handler(event_payload("onboarding_sqs"), lambda_context)
    # THEN nothing new starts
    assert result == {"batchItemFailures": []}
    assert _executions(entry) == ["vend-team-mlops-staging-a1"]


def test_start_from_event_transient_failure_fails_only_its_record(
    entry: str, event_payload: Payload, lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN two valid events in one batch, and Step Functions throttling the second team's start
    first = event_payload("onboarding_sqs")
    second = _sqs_event(
        event_payload, team="team-backend", gpu_tier="inference", repository="example-org/team-backend-infra"
    )
    second["Records"][0]["messageId"] = "7b3c1f2a-0000-4000-8000-000000000002"
    event = {"Records": [first["Records"][0], second["Records"][0]]}
    real_submit = start_from_event.submit

    def flaky(sfn: Any, store: Any, arn: str, request: Any, **kwargs: Any) -> Any:
        if request.team == "team-backend":
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "StartExecution")
        return real_submit(sfn, store, arn, request, **kwargs)

    monkeypatch.setattr(start_from_event, "submit", flaky)
    # WHEN the handler runs
    result = start_from_event.handler(event, lambda_context)
    # THEN only the throttled record is reported for redelivery; the other started
    assert result == {"batchItemFailures": [{"itemIdentifier": "7b3c1f2a-0000-4000-8000-000000000002"}]}
    assert _executions(entry) == ["vend-team-mlops-staging-a1"]


@pytest.mark.parametrize("disabled", ["true", "false"])
def test_start_from_event_every_outcome_emits_a_metric(
    entry: str,
    event_payload: Payload,
    lambda_context: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    disabled: str,
) -> None:
    # GIVEN metrics on (as in Lambda) or off (as in `vend demo`): powertools warns on an empty flush either way
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", disabled)
    ignored = _sqs_event(event_payload)
    body = json.loads(ignored["Records"][0]["body"])
    ignored["Records"][0]["body"] = json.dumps({**body, "detail-type": "Something Else"})
    malformed = _sqs_event(event_payload, stage="qa")
    # WHEN a submitted, an ignored and a rejected event are handled (the module turns the warning into an error)
    for event in (event_payload("onboarding_sqs"), ignored, malformed):
        start_from_event.handler(event, lambda_context)
    # THEN with metrics on, each flush carries the outcome's metric
    out = capsys.readouterr().out
    if disabled == "false":
        for name in ("RequestsSubmitted", "OnboardingEventsIgnored", "RequestsRejected", "OnboardingRecordsReceived"):
            assert f'"{name}"' in out, name
