"""What `vend demo --faults benchmarks/faults-demo.yaml` (seed 3) found in the demo's own client and checks."""

from __future__ import annotations

import io
import json
from typing import Any

import boto3
import pytest

from landing_zone.local import demo


class FlakyLambda:
    """The Lambda service answering the API function's invocations: first a service error, then the real answer."""

    def __init__(self, answers: list[dict[str, Any]]) -> None:
        self.answers = answers
        self.calls = 0

    def invoke(self, **_: Any) -> dict[str, Any]:
        answer = self.answers[min(self.calls, len(self.answers) - 1)]
        self.calls += 1
        reply: dict[str, Any] = {"Payload": io.BytesIO(json.dumps(answer["payload"]).encode())}
        if answer.get("function_error"):
            reply["FunctionError"] = "Unhandled"
        return reply


class Session:
    def __init__(self, lam: FlakyLambda) -> None:
        self.lam = lam

    def client(self, name: str) -> FlakyLambda:
        assert name == "lambda"
        return self.lam


def test_demo_seed_3_api_call_retries_a_lambda_service_error(monkeypatch: Any) -> None:
    # GIVEN the API function's first invocation fails in the Lambda service (what the resend met under seed 3)
    monkeypatch.setattr(demo.time, "sleep", lambda _: None)
    ok = {"statusCode": 200, "body": json.dumps({"outcome": "already_ready"})}
    lam = FlakyLambda(
        [
            {"payload": {"errorType": "Lambda.ServiceException", "errorMessage": "fault"}, "function_error": True},
            {"payload": ok},
        ]
    )
    # WHEN the demo calls the API as a client
    response = demo.call_api(Session(lam), {"httpMethod": "POST"})  # type: ignore[arg-type]
    # THEN the 5xx was retried and the real answer returned; a 4xx is an answer, not retried
    assert (response, lam.calls) == (ok, 2)
    refused = FlakyLambda([{"payload": {"statusCode": 400, "body": "{}"}}])
    assert demo.call_api(Session(refused), {})["statusCode"] == 400 and refused.calls == 1  # type: ignore[arg-type]
    # AND one that keeps failing ends as a 502 after the bounded attempts
    down = FlakyLambda([{"payload": {"errorType": "Runtime.ExitError"}, "function_error": True}])
    assert demo.call_api(Session(down), {})["statusCode"] == 502 and down.calls == demo.API_ATTEMPTS  # type: ignore[arg-type]


def test_demo_seed_3_a_resend_answered_with_an_error_fails_the_demo() -> None:
    # GIVEN a demo report whose resend through the API got no answer (seed 3 passed the demo with one)
    team = {
        "team": "team-a",
        "status": "READY",
        "state_bucket_checks": {"versioning": "Enabled", "public_access_blocked": True, "tls_only": True},
        "scps": ["FullAWSAccess"],
    }
    team["state_bucket_checks"]["state_objects"] = ["x"]
    replies = [
        {"via": "event", "outcome": None, "failed_entries": 0},
        {"via": "api", "outcome": None, "status_code": None},
        {"via": "cli", "outcome": "already_ready"},
    ]
    report = {
        "teams": [team],
        "checks": {
            "resend": {
                "accounts_before": 1,
                "accounts_after": 1,
                "executions_before": 1,
                "executions_after": 1,
                "queue_drained_after_seconds": 0.2,
                "replies": replies,
            },
            "bad_request": {"status_code": 400, "accounts_created": 0},
            "audit": {"findings": 0, "by_type": {}},
        },
    }
    # WHEN the demo's checks run, THEN the unanswered resend is a problem, and only it
    problems = demo.demo_ok(report)
    assert len(problems) == 1 and "resends not answered" in problems[0] and "'api'" in problems[0]
    replies[1]["outcome"] = "already_ready"
    assert demo.demo_ok(report) == []


def _clean_report() -> dict[str, Any]:
    team = {
        "team": "team-a",
        "status": "READY",
        "state_bucket_checks": {
            "versioning": "Enabled",
            "public_access_blocked": True,
            "tls_only": True,
            "state_objects": ["x"],
        },
        "scps": ["FullAWSAccess"],
    }
    resend = {
        "accounts_before": 1,
        "accounts_after": 1,
        "executions_before": 1,
        "executions_after": 1,
        "queue_drained_after_seconds": 0.2,
        "replies": [{"via": "cli", "outcome": "already_ready"}],
    }
    bad = {
        "status_code": 400,
        "expected_fields": ["stage", "team"],
        "fields": ["stage", "team"],
        "accounts_created": 0,
        "executions_started": 0,
    }
    return {"teams": [team], "checks": {"resend": resend, "bad_request": bad, "audit": {"findings": 0, "by_type": {}}}}


@pytest.mark.parametrize(
    ("fault", "named"),
    [
        (("bad_request", "fields", ["team"]), "names ['team'], not each wrong field ['stage', 'team']"),
        (("bad_request", "fields", ["cost_center", "stage", "team"]), "names ['cost_center', 'stage', 'team']"),
        (("bad_request", "executions_started", 1), "bad request not rejected cleanly"),
        (("resend", "queue_drained_after_seconds", None), "never drained"),
    ],
)
def test_demo_bad_request_must_name_each_field_and_the_resend_must_see_the_queue_drain(
    fault: tuple[str, str, Any], named: str
) -> None:
    # GIVEN a clean demo report (the positive control: no problem)
    report = _clean_report()
    assert demo.demo_ok(report) == []
    # WHEN one fault is planted THEN the demo fails naming it
    check, key, value = fault
    report["checks"][check][key] = value
    problems = demo.demo_ok(report)
    assert len(problems) == 1 and named in problems[0], problems


def test_demo_queue_drained_polls_until_the_queue_is_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto import mock_aws

    for name, value in {
        "AWS_ACCESS_KEY_ID": "t",
        "AWS_SECRET_ACCESS_KEY": "t",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="onboarding")["QueueUrl"]
        # GIVEN an empty queue THEN it is drained at once
        assert demo.queue_drained(sqs, url) is not None
        # GIVEN a message nobody consumes THEN the bounded wait gives up and says so (None), it never guesses
        sqs.send_message(QueueUrl=url, MessageBody="{}")
        assert demo.queue_drained(sqs, url, timeout=0.5, poll=0.1) is None
