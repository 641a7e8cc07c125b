"""vending.guardrails.orgapi in detail: the backoff's waits and attempts, paging, the call counter, and the exact calls
CreatePolicy and DeletePolicy make (botocore's Stubber checks each call's parameters)."""

from __future__ import annotations

import random
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from vending.exceptions import ConcurrentUpdate, NotConfigured, OrganizationsThrottled
from vending.guardrails.orgapi import ApiCallCounter, Backoff, create_policy, delete_policy

SCP = "SERVICE_CONTROL_POLICY"


def _org() -> Any:
    return boto3.client("organizations", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")


def _throttle(stub: Stubber, operation: str, times: int) -> None:
    for _ in range(times):
        stub.add_client_error(operation, "TooManyRequestsException")


def test_backoff_defaults_wait_with_full_jitter_under_a_doubling_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the defaults (6 attempts, base 0.2 s, cap 8 s) and Organizations throttling every call
    drawn: list[tuple[float, float]] = []
    monkeypatch.setattr(random, "uniform", lambda a, b: drawn.append((a, b)) or b / 2)
    slept: list[float] = []
    org = _org()
    with Stubber(org) as stub:
        _throttle(stub, "list_roots", 6)
        b = Backoff(sleep=slept.append)
        # WHEN called THEN the named retryable error, after six calls, with the call's description and the code
        with pytest.raises(OrganizationsThrottled, match=r"^ListRoots here: TooManyRequestsException$"):
            b.call(org.list_roots, "ListRoots here")
        stub.assert_no_pending_responses()
    # AND a wait before each retry, drawn from [0, min(8, 0.2 * 2**attempt)], none after the last attempt
    assert drawn == [(0, 0.4), (0, 0.8), (0, 1.6), (0, 3.2), (0, 6.4)]
    assert slept == [0.2, 0.4, 0.8, 1.6, 3.2] and b.throttled == 6


@pytest.mark.parametrize(
    ("backoff", "throttles", "caps"),
    [
        ({"attempts": 5, "base": 1.0, "cap": 3.0}, 4, [2.0, 3.0, 3.0, 3.0]),
        ({"attempts": 8}, 7, [0.4, 0.8, 1.6, 3.2, 6.4, 8.0, 8.0]),  # the default cap: 8 s
    ],
    ids=["given", "default"],
)
def test_backoff_cap_bounds_the_later_waits(
    monkeypatch: pytest.MonkeyPatch, backoff: dict[str, Any], throttles: int, caps: list[float]
) -> None:
    drawn: list[float] = []
    monkeypatch.setattr(random, "uniform", lambda a, b: drawn.append(b) or 0.0)
    org = _org()
    with Stubber(org) as stub:
        _throttle(stub, "list_roots", throttles)
        stub.add_response("list_roots", {"Roots": []})
        out = Backoff(**backoff, sleep=lambda _s: None).call(org.list_roots, "ListRoots")
    assert out["Roots"] == [] and drawn == caps


def test_backoff_passes_the_arguments_and_counts_each_throttle_once() -> None:
    org = _org()
    with Stubber(org) as stub:
        stub.add_client_error("list_policies", "TooManyRequestsException", expected_params={"Filter": SCP})
        stub.add_response("list_policies", {"Policies": []}, expected_params={"Filter": SCP})
        b = Backoff(attempts=2, sleep=lambda _s: None)
        assert b.call(org.list_policies, "ListPolicies", Filter=SCP)["Policies"] == []
        stub.assert_no_pending_responses()
    assert b.throttled == 1


def test_pages_follow_next_token_with_the_same_arguments_and_retry_a_page_alone() -> None:
    org = _org()
    first = {"Filter": SCP}
    with Stubber(org) as stub:
        stub.add_response("list_policies", {"Policies": [{"Id": "p-1"}], "NextToken": "t1"}, expected_params=first)
        stub.add_client_error(
            "list_policies", "TooManyRequestsException", expected_params={"Filter": SCP, "NextToken": "t1"}
        )
        stub.add_response(
            "list_policies",
            {"Policies": [{"Id": "p-2"}, {"Id": "p-3"}], "NextToken": "t2"},
            expected_params={"Filter": SCP, "NextToken": "t1"},
        )
        stub.add_response("list_policies", {"NextToken": ""}, expected_params={"Filter": SCP, "NextToken": "t2"})
        b = Backoff(attempts=2, sleep=lambda _s: None)
        ids = [p["Id"] for p in b.pages(org, "list_policies", "Policies", Filter=SCP)]
        stub.assert_no_pending_responses()
    # THEN every item of every page, in order; a page without the key yields nothing; an empty token ends it
    assert ids == ["p-1", "p-2", "p-3"] and b.throttled == 1


def test_call_counter_counts_each_call_by_operation_and_only_on_its_clients() -> None:
    org, other = _org(), _org()
    counter = ApiCallCounter().attach(org)
    with Stubber(org) as stub, Stubber(other) as stub_other:
        stub.add_client_error("list_roots", "TooManyRequestsException")
        stub.add_response("list_roots", {"Roots": []})
        stub.add_response("describe_organization", {"Organization": {"Id": "o-abcdefghij"}})
        stub_other.add_response("list_roots", {"Roots": []})
        Backoff(attempts=2, sleep=lambda _s: None).call(org.list_roots, "ListRoots")
        org.describe_organization()
        other.list_roots()
    assert counter.total == 3
    assert counter.to_dict() == {"total": 3, "by_operation": {"DescribeOrganization": 1, "ListRoots": 2}}
    assert list(counter.to_dict()["by_operation"]) == ["DescribeOrganization", "ListRoots"]  # sorted
    # (a call without an operation model is counted as unknown, not dropped)
    counter._count()
    assert counter.calls["unknown"] == 1


def test_create_policy_sends_every_field_and_returns_the_new_id() -> None:
    org = _org()
    sent = {"Name": "vend-x", "Description": "the description", "Type": SCP, "Content": '{"Version":"2012-10-17"}'}
    made = {"Policy": {"PolicySummary": {"Id": "p-new", "Name": "vend-x"}, "Content": sent["Content"]}}
    with Stubber(org) as stub:
        stub.add_response("create_policy", made, expected_params=sent)
        found = create_policy(
            Backoff(attempts=1),
            org,
            name="vend-x",
            policy_type=SCP,
            content=sent["Content"],
            description="the description",
        )
        stub.assert_no_pending_responses()
    assert found == "p-new"


def test_create_policy_duplicate_takes_the_id_of_that_name_of_that_type() -> None:
    org = _org()
    listed = {"Policies": [{"Id": "p-other", "Name": "vend-y"}, {"Id": "p-mine", "Name": "vend-x"}]}
    with Stubber(org) as stub:
        stub.add_client_error("create_policy", "DuplicatePolicyException")
        stub.add_response("list_policies", listed, expected_params={"Filter": "TAG_POLICY"})
        found = create_policy(
            Backoff(attempts=1), org, name="vend-x", policy_type="TAG_POLICY", content="{}", description="d"
        )
    assert found == "p-mine"


def test_create_policy_duplicate_not_yet_listed_is_retried_later() -> None:
    org = _org()
    with Stubber(org) as stub:
        stub.add_client_error("create_policy", "DuplicatePolicyException")
        stub.add_response("list_policies", {"Policies": [{"Id": "p-other", "Name": "vend-y"}]})
        with pytest.raises(ConcurrentUpdate, match=r"^CreatePolicy vend-x: .*no SERVICE_CONTROL_POLICY has that name"):
            create_policy(Backoff(attempts=1), org, name="vend-x", policy_type=SCP, content="{}", description="d")


def test_create_policy_other_refusals_propagate_without_a_listing() -> None:
    org = _org()
    with Stubber(org) as stub:
        stub.add_client_error("create_policy", "ConstraintViolationException")
        with pytest.raises(ClientError, match="ConstraintViolationException"):
            create_policy(Backoff(attempts=1), org, name="vend-x", policy_type=SCP, content="{}", description="d")
        stub.assert_no_pending_responses()


@pytest.mark.parametrize("code", ["AccessDenied", "AccessDeniedException"])
def test_delete_policy_denied_reads_the_policies_of_its_type(code: str) -> None:
    org = _org()
    with Stubber(org) as stub:
        stub.add_client_error("delete_policy", code, expected_params={"PolicyId": "p-gone"})
        stub.add_response("list_policies", {"Policies": [{"Id": "p-other"}]}, expected_params={"Filter": "TAG_POLICY"})
        delete_policy(Backoff(attempts=1), org, "p-gone", "TAG_POLICY", "DeletePolicy vend-tags")
        stub.assert_no_pending_responses()


def test_backoff_makes_at_least_one_attempt() -> None:
    with pytest.raises(NotConfigured, match="at least one attempt, not 0"):
        Backoff(attempts=0)
    assert Backoff(attempts=1).attempts == 1


@pytest.mark.parametrize(
    ("call", "operation", "named"),
    [
        (
            lambda b, org: create_policy(b, org, name="vend-x", policy_type=SCP, content="{}", description="d"),
            "create_policy",
            "CreatePolicy vend-x",
        ),
        (
            lambda b, org: delete_policy(b, org, "p-1", SCP, "DeletePolicy vend-x"),
            "delete_policy",
            "DeletePolicy vend-x",
        ),
        (
            lambda b, org: list(b.pages(org, "list_policies", "Policies", Filter=SCP)),
            "list_policies",
            "list_policies {'Filter': 'SERVICE_CONTROL_POLICY'}",
        ),
    ],
    ids=["create", "delete", "pages"],
)
def test_a_call_throttled_to_the_end_names_what_it_was(call: Any, operation: str, named: str) -> None:
    org = _org()
    with Stubber(org) as stub:
        _throttle(stub, operation, 2)
        with pytest.raises(OrganizationsThrottled) as raised:
            call(Backoff(attempts=2, sleep=lambda _s: None), org)
    assert str(raised.value) == f"{named}: TooManyRequestsException"


@pytest.mark.parametrize(
    "call",
    [
        lambda b, org: create_policy(b, org, name="vend-x", policy_type=SCP, content="{}", description="d"),
        lambda b, org: delete_policy(b, org, "p-1", SCP, "DeletePolicy vend-x"),
    ],
    ids=["create", "delete"],
)
def test_an_error_without_a_code_propagates_as_it_came(call: Any) -> None:
    class Org:  # a refusal whose response carries no Error element at all
        def create_policy(self, **_: Any) -> Any:
            raise ClientError({}, "CreatePolicy")

        def delete_policy(self, **_: Any) -> Any:
            raise ClientError({}, "DeletePolicy")

    with pytest.raises(ClientError) as raised:
        call(Backoff(attempts=1), Org())
    assert raised.value.response == {}  # the refusal itself, not an error of reading it
