"""Throttling: backoff and the named retryable error, with botocore's Stubber (moto never throttles)."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from vending.exceptions import OrganizationsThrottled
from vending.guardrails import apply_account_guardrails
from vending.guardrails.orgapi import ApiCallCounter, Backoff
from vending.layout import load_layout

ORG = {"Organization": {"Id": "o-abcdefghij", "MasterAccountId": "111111111111"}}


def _client() -> object:
    return boto3.client("organizations", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")


def test_backoff_retries_throttling_then_succeeds() -> None:
    # GIVEN Organizations throttles twice, then answers
    org = _client()
    counter = ApiCallCounter().attach(org)
    slept: list[float] = []
    with Stubber(org) as stub:  # type: ignore[arg-type]
        stub.add_client_error("describe_organization", "TooManyRequestsException")
        stub.add_client_error("describe_organization", "ConcurrentModificationException")
        stub.add_response("describe_organization", ORG)
        # WHEN called through the backoff
        b = Backoff(attempts=4, sleep=slept.append)
        out = b.call(org.describe_organization, "DescribeOrganization")  # type: ignore[attr-defined]
    # THEN it slept twice (growing caps), counted three calls and returned the answer
    assert out["Organization"]["MasterAccountId"] == "111111111111"
    assert len(slept) == 2 and b.throttled == 2 and counter.total == 3


def test_backoff_gives_up_with_named_retryable_error() -> None:
    org = _client()
    with Stubber(org) as stub:  # type: ignore[arg-type]
        for _ in range(3):
            stub.add_client_error("list_roots", "TooManyRequestsException")
        with pytest.raises(OrganizationsThrottled):
            Backoff(attempts=3, sleep=lambda _s: None).call(org.list_roots, "ListRoots")  # type: ignore[attr-defined]


def test_backoff_does_not_retry_other_errors() -> None:
    from botocore.exceptions import ClientError

    org = _client()
    with Stubber(org) as stub:  # type: ignore[arg-type]
        stub.add_client_error("list_roots", "AccessDeniedException")
        b = Backoff(attempts=3, sleep=lambda _s: None)
        with pytest.raises(ClientError):
            b.call(org.list_roots, "ListRoots")  # type: ignore[attr-defined]
        assert b.throttled == 0


def test_apply_account_guardrails_throttled_raises_organizations_throttled() -> None:
    # GIVEN Organizations keeps throttling WHEN ApplyGuardrails runs THEN the state machine sees the retryable error
    org = _client()
    with Stubber(org) as stub:  # type: ignore[arg-type]
        for _ in range(2):
            stub.add_client_error("describe_organization", "TooManyRequestsException")
        with pytest.raises(OrganizationsThrottled):
            apply_account_guardrails(
                org,
                load_layout(),
                account_id="222222222222",
                team="team-mlops",
                stage="staging",
                gpu_tier="training",
                backoff=Backoff(attempts=2, sleep=lambda _s: None),
            )
