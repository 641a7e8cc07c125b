"""Bad day-2 input through the API (issue 23): an id that is not `<team>-<stage>`, an empty or oversized requester or
approver, an oversized field; each a 400 naming the field, nothing read as a key, nothing recorded or started."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.test_identity import ADMIN_SESSION, _signed

HUGE = "x" * 10_000


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("PATCH", "/requests/team-mlops-staging", {"gpu_tier": "inference", "requested_by": ""}, "requested_by"),
        ("PATCH", "/requests/team-mlops-staging", {"gpu_tier": "inference", "requested_by": HUGE}, "requested_by"),
        ("POST", "/requests/team-mlops-staging/approve", {"approved_by": ""}, "approved_by"),
        ("POST", "/requests/team-mlops-staging/approve", {"approved_by": "   "}, "approved_by"),
        ("POST", "/requests/team-mlops-staging/approve", {"approved_by": HUGE}, "approved_by"),
        ("PATCH", "/requests/%20", {"gpu_tier": "inference"}, "request_id"),
        ("PATCH", f"/requests/{HUGE[:2000]}", {"gpu_tier": "inference"}, "request_id"),
        ("POST", "/requests/%20/approve", {}, "request_id"),
        ("POST", "/requests/Team_X/decommission", None, "request_id"),
        ("GET", "/requests/%20", None, "request_id"),
        ("POST", "/requests/%20/resume", None, "request_id"),
    ],
)
def test_bad_day2_input_is_a_400_naming_the_field_and_changes_nothing(
    aws: dict[str, Any], method: str, path: str, body: Any, field: str
) -> None:
    # GIVEN a signed admin call with one bad field WHEN it is sent
    status, answer = _signed(method, path, body, ADMIN_SESSION)
    # THEN 400 InvalidRequest names that field
    assert (status, answer["code"]) == (400, "InvalidRequest"), answer
    assert [e["field"] for e in answer["errors"]] == [field], answer
    # AND nothing was read as a key, recorded or started
    assert aws["dynamodb"].scan(TableName="vending-requests")["Items"] == []
    assert aws["stepfunctions"].list_executions(stateMachineArn=aws["state_machine_arn"])["executions"] == []
