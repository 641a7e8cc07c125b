"""The API takes who acts from the request's IAM identity (API Gateway's requestContext.identity.userArn), never from
the body: a body naming someone else is refused, an unsigned call is refused, and neither changes anything."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.api.conftest import _Ctx, proxy_event

ADMIN_SESSION = "arn:aws:sts::123456789012:assumed-role/PlatformAdmin/alice"


def _signed(method: str, path: str, body: Any, user_arn: str | None) -> tuple[int, Any]:
    from vending.api.handler import handler

    event = proxy_event(method, path, body)
    if user_arn:
        event["requestContext"]["identity"]["userArn"] = user_arn
    result = handler(event, _Ctx())
    return result["statusCode"], json.loads(result["body"])


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("PATCH", "/requests/team-mlops-staging", {"gpu_tier": "inference"}, "requested_by"),
        ("POST", "/requests/team-mlops-staging/approve", {}, "approved_by"),
    ],
)
def test_a_body_naming_someone_else_is_refused_and_an_unsigned_call_too(
    aws: dict[str, Any], method: str, path: str, body: dict[str, Any], field: str
) -> None:
    # GIVEN a call signed by an admin session whose body names another principal
    named = {**body, field: "arn:aws:iam::123456789012:role/PlatformApprover"}
    # WHEN it is sent THEN 400 names the field and the signer; the body is never taken for the signer
    status, answer = _signed(method, path, named, ADMIN_SESSION)
    assert (status, answer["code"]) == (400, "InvalidRequest"), answer
    assert (
        answer["errors"][0]["field"] == field
        and "signed by arn:aws:iam::123456789012:role/PlatformAdmin" in (answer["message"])
    )
    # AND a free-text name is refused the same way
    status, answer = _signed(method, path, {**body, field: "bob"}, ADMIN_SESSION)
    assert (status, answer["code"], answer["errors"][0]["field"]) == (400, "InvalidRequest", field), answer
    # AND a call without an IAM identity is refused before anything is read
    status, answer = _signed(method, path, body, None)
    assert (status, answer["code"]) == (403, "NotSigned"), answer
    # AND nothing was recorded or started (the refusals come before any store is read: no changes table exists here)
    assert aws["dynamodb"].scan(TableName="vending-requests")["Items"] == []
    assert aws["stepfunctions"].list_executions(stateMachineArn=aws["state_machine_arn"])["executions"] == []
