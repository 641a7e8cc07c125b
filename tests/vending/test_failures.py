"""vending.failures: the failing state from the execution history; the reason from a Catch's error."""

from __future__ import annotations

import json
from typing import Any

import pytest

from vending.failures import failed_state, reason_from


class FakeHistory:
    """A Step Functions client double serving a recorded history in pages."""

    def __init__(self, *pages: list[dict[str, Any]]) -> None:
        self.pages = pages
        self.arns: list[str] = []

    def get_paginator(self, name: str) -> FakeHistory:
        assert name == "get_execution_history"
        return self

    def paginate(self, executionArn: str) -> list[dict[str, Any]]:
        self.arns.append(executionArn)
        return [{"events": page} for page in self.pages]


def entered(name: str) -> dict[str, Any]:
    return {"type": "TaskStateEntered", "stateEnteredEventDetails": {"name": name}}


def event(kind: str) -> dict[str, Any]:
    return {"type": kind}


ARN = "arn:aws:states:us-east-1:123456789012:execution:AccountVending:vend-team-mlops-staging-a1"


def test_failed_state_last_task_failure() -> None:
    # GIVEN a history where CheckAccountStatus's Lambda failed, then the Catch entered RecordFailed
    sfn = FakeHistory(
        [
            event("ExecutionStarted"),
            entered("Validate"),
            event("LambdaFunctionSucceeded"),
            entered("Reserve"),
            event("LambdaFunctionSucceeded"),
        ],
        [
            entered("CreateAccount"),
            event("LambdaFunctionSucceeded"),
            entered("CheckAccountStatus"),
            event("LambdaFunctionFailed"),
            entered("RecordFailed"),
        ],
    )
    # WHEN the failed state is read
    # THEN it is CheckAccountStatus, across pages
    assert failed_state(sfn, ARN) == "CheckAccountStatus"
    assert sfn.arns == [ARN]


@pytest.mark.parametrize("kind", ["LambdaFunctionTimedOut", "TaskFailed", "TaskTimedOut"])
def test_failed_state_other_failure_kinds(kind: str) -> None:
    # GIVEN a Bootstrap task that failed in another way
    sfn = FakeHistory(
        [entered("PlaceInOu"), event("TaskSucceeded"), entered("Bootstrap"), event(kind), entered("RecordFailed")]
    )
    # WHEN the failed state is read
    # THEN it is Bootstrap
    assert failed_state(sfn, ARN) == "Bootstrap"


def test_failed_state_retried_failure_then_later_failure() -> None:
    # GIVEN a throttled CreateAccount that succeeded on retry, then a failing TagAccount
    sfn = FakeHistory(
        [
            entered("CreateAccount"),
            event("LambdaFunctionFailed"),
            event("LambdaFunctionSucceeded"),
            entered("TagAccount"),
            event("LambdaFunctionFailed"),
            entered("RecordFailed"),
        ]
    )
    # WHEN the failed state is read
    # THEN the last failure wins
    assert failed_state(sfn, ARN) == "TagAccount"


def test_failed_state_none_without_task_failure() -> None:
    # GIVEN a history without a task failure
    sfn = FakeHistory([entered("Validate"), event("LambdaFunctionSucceeded")])
    # WHEN the failed state is read
    # THEN there is none
    assert failed_state(sfn, ARN) is None


def test_reason_from_lambda_error_cause() -> None:
    # GIVEN a Catch's error whose Cause is the Lambda error JSON
    error = {
        "Error": "AccountCreationFailed",
        "Cause": json.dumps(
            {
                "errorMessage": "CreateAccount car-1 failed: INTERNAL_FAILURE",
                "errorType": "AccountCreationFailed",
                "stackTrace": ["..."],
            }
        ),
    }
    # WHEN the reason is derived
    # THEN it is "Error: message"
    assert reason_from(error) == "AccountCreationFailed: CreateAccount car-1 failed: INTERNAL_FAILURE"


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            {"Error": "States.Timeout", "Cause": "Task timed out after 900 seconds"},
            "States.Timeout: Task timed out after 900 seconds",
        ),
        ({"Error": "States.Runtime", "Cause": json.dumps("plain string")}, "States.Runtime: plain string"),
        ({}, "Unknown"),
        ({"Error": "PipelineFailed", "Cause": None}, "PipelineFailed"),
    ],
)
def test_reason_from_other_causes(error: dict[str, Any], expected: str) -> None:
    # GIVEN a Catch's error that is not a Lambda error JSON object
    # WHEN the reason is derived
    # THEN it still says what failed
    assert reason_from(error) == expected
