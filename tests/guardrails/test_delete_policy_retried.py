"""A DeletePolicy retried after its answer was lost (the chaos soak met one in RetireAccount): the policy is gone, and
the retry is refused as PolicyNotFoundException or, where the call is authorized on the policy's ARN, AccessDenied.
vending.guardrails.orgapi.delete_policy settles it by what the organization lists, never by the error alone."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from vending.guardrails.orgapi import Backoff, delete_policy

POLICY = "p-12345678"


def _org_with(answers: list[tuple[str, dict | str]]) -> tuple[object, Stubber]:
    org = boto3.client("organizations", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stub = Stubber(org)
    for operation, answer in answers:
        if isinstance(answer, str):
            stub.add_client_error(operation, service_error_code=answer, http_status_code=400)
        else:
            stub.add_response(operation, answer)
    stub.activate()
    return org, stub


def _listed(*ids: str) -> dict:
    return {"Policies": [{"Id": i, "Name": f"vend-{i}", "Type": "SERVICE_CONTROL_POLICY"} for i in ids]}


@pytest.mark.parametrize(
    "answers",
    [
        [("delete_policy", {})],
        [("delete_policy", "PolicyNotFoundException")],
        [("delete_policy", "AccessDeniedException"), ("list_policies", _listed("p-other"))],
    ],
    ids=["deleted", "not-found", "denied-and-gone"],
)
def test_a_deleted_policy_is_settled(answers: list) -> None:
    org, stub = _org_with(answers)
    delete_policy(Backoff(attempts=1), org, POLICY, "SERVICE_CONTROL_POLICY", "DeletePolicy vend-x")
    stub.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("answers", "code"),
    [
        ([("delete_policy", "AccessDeniedException"), ("list_policies", _listed(POLICY))], "AccessDeniedException"),
        ([("delete_policy", "PolicyInUseException")], "PolicyInUseException"),
    ],
    ids=["denied-and-still-there", "in-use"],
)
def test_a_policy_that_still_exists_keeps_the_refusal(answers: list, code: str) -> None:
    org, _ = _org_with(answers)
    with pytest.raises(ClientError, match=code):
        delete_policy(Backoff(attempts=1), org, POLICY, "SERVICE_CONTROL_POLICY", "DeletePolicy vend-x")


def test_a_create_retried_after_a_lost_answer_adopts_the_policy_it_made() -> None:
    from vending.guardrails.orgapi import create_policy

    # GIVEN CreatePolicy refused as a duplicate (the soak: ApplyGuardrails failed on it and needed a resume)
    org, stub = _org_with([("create_policy", "DuplicatePolicyException"), ("list_policies", _listed(POLICY))])
    # THEN the id of the policy of that name is returned
    found = create_policy(
        Backoff(attempts=1),
        org,
        name=f"vend-{POLICY}",
        policy_type="SERVICE_CONTROL_POLICY",
        content="{}",
        description="d",
    )
    assert found == POLICY
    stub.assert_no_pending_responses()
