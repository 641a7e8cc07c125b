"""vending.accounts: CreateAccount once (or adopt), one poll per call, placement and tags.

moto completes CreateAccount at once, so IN_PROGRESS, FAILED and throttling come from botocore's Stubber."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.stub import Stubber

from tests.vending.conftest import SLOTS_TABLE
from vending.accounts import (
    AccountProgress,
    CreationSlots,
    backoff_seconds,
    check_account_creation,
    place_in_ou,
    start_account_creation,
    tag_account,
)
from vending.exceptions import AccountCreationFailed, AccountCreationTimedOut, OrganizationsThrottled
from vending.layout import Layout
from vending.lifecycle import RequestStore, Status
from vending.org_tree import ensure_ou_path, parent_of, root_id
from vending.request import VendingRequest

EMAIL = "aws+team-mlops-staging@example.com"
CAR = "car-0123456789abcdef0123456789abcdef"


def _status(state: str, **extra: Any) -> dict[str, Any]:
    return {"CreateAccountStatus": {"Id": CAR, "AccountName": "team-mlops-staging", "State": state, **extra}}


def _account_count(org: Any) -> int:
    return sum(len(p["Accounts"]) for p in org.get_paginator("list_accounts").paginate())


def test_start_account_creation_saves_request_id(
    org: Any, reserved: RequestStore, request_: VendingRequest, layout: Layout
) -> None:
    # GIVEN a reserved request and no account with its e-mail
    # WHEN the creation is started
    progress = start_account_creation(org, reserved, request_, layout)
    # THEN the CreateAccount request id is in the record before anyone polls, and the step reports IN_PROGRESS
    record = reserved.require(request_.request_id)
    assert progress.state == "IN_PROGRESS"
    assert progress.create_account_request_id
    assert record.create_account_request_id == progress.create_account_request_id
    assert record.account_email == EMAIL
    assert record.status == Status.CREATING
    # ... and the account was created with the layout's e-mail, name and cost tags
    account = next(
        a for p in org.get_paginator("list_accounts").paginate() for a in p["Accounts"] if a["Email"] == EMAIL
    )
    assert account["Name"] == "team-mlops-staging"
    tags = {t["Key"]: t["Value"] for t in org.list_tags_for_resource(ResourceId=account["Id"])["Tags"]}
    assert tags["cost-center"] == "CC-1003"


def test_start_account_creation_skips_when_account_recorded(
    org: Any, reserved: RequestStore, request_: VendingRequest, layout: Layout
) -> None:
    # GIVEN a record that already has its account (a resumed request)
    reserved.update(request_.request_id, step="CheckAccountStatus", account_id="111122223333", adopted=True)
    # WHEN the creation is started again, with every Organizations call forbidden
    with Stubber(org) as stub:
        progress = start_account_creation(org, reserved, request_, layout)
        stub.assert_no_pending_responses()
    # THEN the recorded account is reported without calling Organizations
    assert progress == AccountProgress(account_id="111122223333", state="SUCCEEDED", adopted=True)


def test_start_account_creation_resumes_polling_a_started_request(
    org: Any, reserved: RequestStore, request_: VendingRequest, layout: Layout
) -> None:
    # GIVEN a record with a CreateAccount request id but no account yet (the step is being retried)
    reserved.update(request_.request_id, step="CreateAccount", create_account_request_id=CAR)
    # WHEN the creation is started again, with every Organizations call forbidden
    with Stubber(org):
        progress = start_account_creation(org, reserved, request_, layout)
    # THEN it goes back to polling the same request instead of creating a second account
    assert progress == AccountProgress(create_account_request_id=CAR, state="IN_PROGRESS")


def test_start_account_creation_never_lists_the_organization(
    org: Any,
    reserved: RequestStore,
    request_: VendingRequest,
    layout: Layout,
    calls_of: Callable[[Any, str], list[Any]],
) -> None:
    # GIVEN a reserved request (at scale, listing every account per vend is O(accounts) calls)
    listed = calls_of(org, "ListAccounts")
    statuses = calls_of(org, "ListCreateAccountStatus")
    # WHEN the creation is started
    progress = start_account_creation(org, reserved, request_, layout)
    # THEN CreateAccount is called directly: no ListAccounts, no ListCreateAccountStatus
    assert progress.state == "IN_PROGRESS" and progress.create_account_request_id
    assert listed == [] and statuses == []


def test_start_account_creation_no_free_slot_is_throttled(
    org: Any, ddb: Any, reserved: RequestStore, request_: VendingRequest, layout: Layout
) -> None:
    # GIVEN five other requests holding the five creation slots
    slots = CreationSlots(ddb, SLOTS_TABLE)
    assert [slots.acquire(f"other-{i}") for i in range(5)].count(None) == 0
    with Stubber(org) as stub:
        # WHEN the creation is started (every Organizations call forbidden)
        # THEN it backs off with the retryable OrganizationsThrottled, before calling CreateAccount
        with pytest.raises(OrganizationsThrottled, match="all 5 account creation slots"):
            start_account_creation(org, reserved, request_, layout, slots)
        stub.assert_no_pending_responses()
    assert reserved.require(request_.request_id).create_account_request_id is None


@pytest.mark.parametrize("code", ["TooManyRequestsException", "ConcurrentModificationException"])
def test_start_account_creation_throttling_error_is_retryable(
    org: Any, ddb: Any, reserved: RequestStore, request_: VendingRequest, layout: Layout, code: str
) -> None:
    # GIVEN CreateAccount answering with a throttling error
    slots = CreationSlots(ddb, SLOTS_TABLE)
    with Stubber(org) as stub:
        stub.add_client_error("create_account", service_error_code=code, http_status_code=400)
        # WHEN the creation is started
        # THEN the error becomes the retryable OrganizationsThrottled, naming the call and the code
        with pytest.raises(OrganizationsThrottled, match=f"CreateAccount: {code}") as caught:
            start_account_creation(org, reserved, request_, layout, slots)
    assert caught.value.__cause__ is not None
    assert reserved.require(request_.request_id).create_account_request_id is None
    # AND the creation slot it took is free again
    assert slots.held_by(request_.request_id) is None


def test_start_account_creation_other_error_is_terminal(
    org: Any, reserved: RequestStore, request_: VendingRequest, layout: Layout
) -> None:
    # GIVEN CreateAccount refusing for good (the org's account quota)
    with Stubber(org) as stub:
        stub.add_client_error(
            "create_account",
            service_error_code="ConstraintViolationException",
            service_message="ACCOUNT_NUMBER_LIMIT_EXCEEDED",
        )
        # WHEN the creation is started
        # THEN it fails terminally with the code
        with pytest.raises(AccountCreationFailed, match="ConstraintViolationException"):
            start_account_creation(org, reserved, request_, layout)


def test_check_account_creation_in_progress_counts_poll(
    org: Any, reserved: RequestStore, request_: VendingRequest
) -> None:
    # GIVEN a creation Organizations is still working on
    progress = AccountProgress(create_account_request_id=CAR, state="IN_PROGRESS", polls=3)
    with Stubber(org) as stub:
        stub.add_response("describe_create_account_status", _status("IN_PROGRESS"), {"CreateAccountRequestId": CAR})
        # WHEN it is polled
        result = check_account_creation(
            org, reserved, request_, progress, max_polls=60, base_seconds=2, backoff=2.0, cap_seconds=30
        )
    # THEN it is still IN_PROGRESS with one more poll counted, and the next wait backed off (2 * 2**4, capped)
    assert result == progress.model_copy(update={"polls": 4, "wait_seconds": 30})


def test_check_account_creation_cap_times_out(org: Any, reserved: RequestStore, request_: VendingRequest) -> None:
    # GIVEN a creation still IN_PROGRESS at the last allowed poll
    progress = AccountProgress(create_account_request_id=CAR, state="IN_PROGRESS", polls=59)
    with Stubber(org) as stub:
        stub.add_response("describe_create_account_status", _status("IN_PROGRESS"))
        # WHEN it is polled
        # THEN the step fails terminally
        with pytest.raises(AccountCreationTimedOut, match="60 polls"):
            check_account_creation(org, reserved, request_, progress, max_polls=60)


def test_check_account_creation_failed_clears_request_id(
    org: Any, reserved: RequestStore, request_: VendingRequest, layout: Layout
) -> None:
    # GIVEN a started creation that Organizations fails with INTERNAL_FAILURE
    reserved.update(request_.request_id, step="CreateAccount", create_account_request_id=CAR, account_email=EMAIL)
    progress = AccountProgress(create_account_request_id=CAR, state="IN_PROGRESS")
    with Stubber(org) as stub:
        stub.add_response("describe_create_account_status", _status("FAILED", FailureReason="INTERNAL_FAILURE"))
        # WHEN it is polled
        # THEN the step fails terminally with the reason
        with pytest.raises(AccountCreationFailed, match="INTERNAL_FAILURE"):
            check_account_creation(org, reserved, request_, progress, max_polls=60)
    # ... and the request id is forgotten
    assert reserved.require(request_.request_id).create_account_request_id is None
    # AND WHEN the request is resumed, a fresh creation starts (not a re-read of the failed one)
    reserved.update(request_.request_id, status=Status.FAILED, step="RecordFailed")
    reserved.reserve(request_, "vend-team-mlops-staging-a2")
    again = start_account_creation(org, reserved, request_, layout)
    assert again.create_account_request_id not in (None, CAR)


def test_check_account_creation_email_exists_adopts(
    org: Any, reserved: RequestStore, request_: VendingRequest, member_account: Callable[[str, str], str]
) -> None:
    # GIVEN a creation that failed because a racing creation already made the account with this e-mail
    existing = member_account(EMAIL, "team-mlops-staging")
    reserved.update(request_.request_id, step="CreateAccount", create_account_request_id=CAR, account_email=EMAIL)
    progress = AccountProgress(create_account_request_id=CAR, state="IN_PROGRESS", polls=1)
    with Stubber(org) as stub:
        stub.add_response("describe_create_account_status", _status("FAILED", FailureReason="EMAIL_ALREADY_EXISTS"))
        stub.add_response(
            "list_accounts",
            {
                "Accounts": [
                    {
                        "Id": "999988887777",
                        "Email": "someone-else@example.com",
                        "Status": "ACTIVE",
                        "Name": "x",
                        "Arn": "arn:aws:organizations::123456789012:account/o-exampleorgid/999988887777",
                    },
                    {
                        "Id": existing,
                        "Email": EMAIL.upper(),
                        "Status": "ACTIVE",
                        "Name": "team-mlops-staging",
                        "Arn": f"arn:aws:organizations::123456789012:account/o-exampleorgid/{existing}",
                    },
                ]
            },
        )
        # WHEN it is polled
        result = check_account_creation(org, reserved, request_, progress, max_polls=60)
    # THEN the account that owns the e-mail is adopted and recorded
    assert (result.state, result.account_id, result.adopted, result.polls) == ("SUCCEEDED", existing, True, 2)
    record = reserved.require(request_.request_id)
    assert (record.account_id, record.adopted) == (existing, True)


def test_check_account_creation_succeeded_saves_account(
    org: Any, reserved: RequestStore, request_: VendingRequest, layout: Layout
) -> None:
    # GIVEN a creation started in moto (which completes it at once)
    progress = start_account_creation(org, reserved, request_, layout)
    # WHEN it is polled
    result = check_account_creation(org, reserved, request_, progress, max_polls=60)
    # THEN the account id is reported and saved
    assert result.state == "SUCCEEDED"
    assert result.account_id and len(result.account_id) == 12
    assert reserved.require(request_.request_id).account_id == result.account_id


def test_check_account_creation_already_succeeded_is_noop(
    org: Any, reserved: RequestStore, request_: VendingRequest
) -> None:
    # GIVEN progress that already has its account (adopted at CreateAccount)
    progress = AccountProgress(account_id="111122223333", state="SUCCEEDED", adopted=True)
    # WHEN it is polled, with every Organizations call forbidden
    with Stubber(org):
        result = check_account_creation(org, reserved, request_, progress, max_polls=60)
    # THEN it comes back unchanged
    assert result == progress


def test_check_account_creation_throttled_is_retryable(
    org: Any, reserved: RequestStore, request_: VendingRequest
) -> None:
    # GIVEN DescribeCreateAccountStatus throttled
    progress = AccountProgress(create_account_request_id=CAR, state="IN_PROGRESS")
    with Stubber(org) as stub:
        stub.add_client_error("describe_create_account_status", service_error_code="TooManyRequestsException")
        # WHEN it is polled
        # THEN the retryable error is raised
        with pytest.raises(OrganizationsThrottled):
            check_account_creation(org, reserved, request_, progress, max_polls=60)


def test_place_in_ou_creates_path_and_moves(
    bare_org: Any, reserved: RequestStore, request_: VendingRequest, layout: Layout
) -> None:
    # GIVEN an organization without the Workloads/Staging OU and an account at the root
    account_id = bare_org.create_account(Email=EMAIL, AccountName="team-mlops-staging")["CreateAccountStatus"][
        "AccountId"
    ]
    assert parent_of(bare_org, account_id) == root_id(bare_org)
    # WHEN the account is placed
    placed = place_in_ou(bare_org, reserved, request_, layout, account_id)
    # THEN the OU path exists, the account is in it and the record has the OU
    ou = ensure_ou_path(bare_org, "Workloads/Staging", create=False)
    assert placed == {"ou_path": "Workloads/Staging", "ou_id": ou}
    assert parent_of(bare_org, account_id) == ou
    record = reserved.require(request_.request_id)
    assert (record.status, record.ou_path, record.ou_id) == (Status.PLACING, "Workloads/Staging", ou)


def test_place_in_ou_second_call_is_noop(
    org: Any,
    reserved: RequestStore,
    request_: VendingRequest,
    layout: Layout,
    member_account: Callable[[str, str], str],
    calls_of: Callable[[Any, str], list[Any]],
) -> None:
    # GIVEN an account already placed once
    account_id = member_account(EMAIL, "team-mlops-staging")
    first = place_in_ou(org, reserved, request_, layout, account_id)
    moves = calls_of(org, "MoveAccount")
    creates = calls_of(org, "CreateOrganizationalUnit")
    # WHEN it is placed again (a retried step)
    second = place_in_ou(org, reserved, request_, layout, account_id)
    # THEN nothing moves and nothing is created
    assert second == first
    assert moves == [] and creates == []
    assert parent_of(org, account_id) == first["ou_id"]


def test_place_in_ou_production_goes_to_production(
    org: Any, store: RequestStore, make_request: Any, layout: Layout, member_account: Callable[[str, str], str]
) -> None:
    # GIVEN a production request
    request = make_request(stage="production")
    store.reserve(request, "vend-team-mlops-production-a1")
    account_id = member_account("aws+team-mlops-production@example.com", "team-mlops-production")
    # WHEN it is placed
    placed = place_in_ou(org, store, request, layout, account_id)
    # THEN it is in the production OU of the layout
    assert placed["ou_path"] == "Workloads/Production"
    assert parent_of(org, account_id) == ensure_ou_path(org, "Workloads/Production", create=False)


def test_tag_account_writes_cost_tags(
    org: Any, reserved: RequestStore, request_: VendingRequest, member_account: Callable[[str, str], str]
) -> None:
    # GIVEN an account with a stale cost-center tag
    account_id = member_account(EMAIL, "team-mlops-staging")
    org.tag_resource(ResourceId=account_id, Tags=[{"Key": "cost-center", "Value": "CC-0000"}])
    # WHEN it is tagged (twice: a retried step)
    tag_account(org, reserved, request_, account_id)
    tags = tag_account(org, reserved, request_, account_id)
    # THEN the cost tags are on the account, overwriting the stale value
    expected = {
        "team": "team-mlops",
        "stage": "staging",
        "cost-center": "CC-1003",
        "gpu-tier": "training",
        "owner": "mlops-leads@example.com",
    }
    assert tags == expected
    actual = {t["Key"]: t["Value"] for t in org.list_tags_for_resource(ResourceId=account_id)["Tags"]}
    assert actual == expected
    assert reserved.require(request_.request_id).step == "TagAccount"


def test_tag_account_throttled_is_retryable(org: Any, reserved: RequestStore, request_: VendingRequest) -> None:
    # GIVEN TagResource throttled
    with Stubber(org) as stub:
        stub.add_client_error("tag_resource", service_error_code="TooManyRequestsException")
        # WHEN the account is tagged
        # THEN the retryable error is raised
        with pytest.raises(OrganizationsThrottled, match="TagResource"):
            tag_account(org, reserved, request_, "111122223333")


def test_creation_slots_at_most_five_holders(ddb: Any) -> None:
    # GIVEN the five-slot limiter
    slots = CreationSlots(ddb, SLOTS_TABLE)
    # WHEN seven requests ask for a slot
    got = {f"req-{i}": slots.acquire(f"req-{i}") for i in range(7)}
    # THEN five get distinct slots and two are refused
    held = [s for s in got.values() if s is not None]
    assert sorted(held) == [0, 1, 2, 3, 4]
    # AND a holder asking again (a retried step) keeps its own slot instead of taking a second one
    holder = next(h for h, s in got.items() if s is not None)
    assert slots.acquire(holder) == got[holder]
    # AND a released slot goes to the next asker
    slots.release(holder)
    assert slots.acquire("req-late") == got[holder]


def test_creation_slots_concurrent_acquire_never_overshoots(ddb: Any) -> None:
    # GIVEN twenty requests racing for the slots from threads (no check-then-act: conditional writes only)
    from concurrent.futures import ThreadPoolExecutor

    slots = CreationSlots(ddb, SLOTS_TABLE)
    with ThreadPoolExecutor(max_workers=10) as pool:
        got = list(pool.map(lambda i: slots.acquire(f"r-{i}"), range(20)))
    # THEN exactly five won, each a different slot
    won = [s for s in got if s is not None]
    assert sorted(won) == [0, 1, 2, 3, 4]


def test_creation_slots_lease_of_a_dead_holder_expires(ddb: Any) -> None:
    # GIVEN five holders that died (nobody releases) and a clock
    now = [1_000.0]
    slots = CreationSlots(ddb, SLOTS_TABLE, lease_seconds=600, clock=lambda: now[0])
    for i in range(5):
        slots.acquire(f"dead-{i}")
    assert slots.acquire("waiting") is None
    # WHEN their leases run out
    now[0] += 601
    # THEN the waiting request gets a slot
    assert slots.acquire("waiting") is not None


def test_check_account_creation_releases_slot_when_done(
    org: Any, ddb: Any, reserved: RequestStore, request_: VendingRequest, layout: Layout
) -> None:
    # GIVEN a creation started with a slot (moto completes it at once)
    slots = CreationSlots(ddb, SLOTS_TABLE)
    progress = start_account_creation(org, reserved, request_, layout, slots)
    assert slots.held_by(request_.request_id) is not None
    # WHEN it is polled and SUCCEEDED
    result = check_account_creation(org, reserved, request_, progress, max_polls=60, slots=slots)
    # THEN the slot is free again
    assert result.state == "SUCCEEDED"
    assert slots.held_by(request_.request_id) is None


def test_backoff_seconds_grows_to_the_cap() -> None:
    assert [backoff_seconds(p, base=15, factor=2.0, cap=120) for p in range(5)] == [15, 30, 60, 120, 120]
