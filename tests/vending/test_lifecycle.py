"""vending.lifecycle.RequestStore on a moto table: reservation, resume and optimistic updates."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from vending import lifecycle
from vending.exceptions import ConcurrentUpdate, RequestNotFound, ReservationConflict
from vending.lifecycle import RequestRecord, RequestStore, Status
from vending.request import VendingRequest

A1 = "vend-team-mlops-staging-a1"
A2 = "vend-team-mlops-staging-a2"


def test_reserve_new_request_creates_pending(store: RequestStore, request_: VendingRequest) -> None:
    # GIVEN no record for team-mlops/staging
    # WHEN the first execution reserves it
    record = store.reserve(request_, A1)
    # THEN a PENDING record owned by that execution is stored, with one history entry
    stored = store.require(request_.request_id)
    assert record == stored
    assert stored.status == Status.PENDING
    assert stored.execution_name == A1
    assert stored.attempts == 1
    assert stored.request == request_.model_dump(mode="json")
    assert [(t.status, t.step) for t in stored.history] == [(Status.PENDING, "Reserve")]


def test_reserve_same_execution_retry_returns_same(store: RequestStore, request_: VendingRequest) -> None:
    # GIVEN a reservation by execution a1 that has moved on
    store.reserve(request_, A1)
    store.update(request_.request_id, status=Status.CREATING, step="CreateAccount")
    # WHEN a1 retries its Reserve step
    again = store.reserve(request_, A1)
    # THEN the existing record comes back untouched
    assert again == store.require(request_.request_id)
    assert again.status == Status.CREATING
    assert again.attempts == 1


def test_reserve_other_execution_in_flight_conflicts(store: RequestStore, request_: VendingRequest) -> None:
    # GIVEN a1 owns the request and is creating the account
    store.reserve(request_, A1)
    store.update(request_.request_id, status=Status.CREATING, step="CreateAccount")
    # WHEN another execution tries to reserve the same team and stage
    with pytest.raises(ReservationConflict) as caught:
        store.reserve(request_, "vend-team-mlops-staging-other")
    # THEN it is refused, naming the owner, and the record is unchanged
    assert A1 in str(caught.value)
    assert store.require(request_.request_id).execution_name == A1


def test_reserve_ready_is_returned_as_is(store: RequestStore, request_: VendingRequest) -> None:
    # GIVEN a READY request
    store.reserve(request_, A1)
    ready = store.update(request_.request_id, status=Status.READY, step="RecordReady", account_id="111122223333")
    # WHEN a new execution reserves it
    record = store.reserve(request_, A2)
    # THEN the READY record comes back and nothing is rewritten
    assert record.status == Status.READY
    assert record.execution_name == A1
    assert store.require(request_.request_id) == ready


def test_reserve_failed_is_resumed(store: RequestStore, request_: VendingRequest) -> None:
    # GIVEN a request that failed at Bootstrap after its account was created
    store.reserve(request_, A1)
    store.update(request_.request_id, status=Status.CREATING, step="CreateAccount", account_id="111122223333")
    store.update(
        request_.request_id,
        status=Status.FAILED,
        step="RecordFailed",
        failed_step="Bootstrap",
        failure_reason="BootstrapFailed: boom",
    )
    # WHEN the next execution reserves it
    resumed = store.reserve(request_, A2)
    # THEN it is PENDING again under a2, attempt 2, keeping the account and clearing the failure
    stored = store.require(request_.request_id)
    assert resumed == stored
    assert stored.status == Status.PENDING
    assert stored.execution_name == A2
    assert stored.attempts == 2
    assert stored.account_id == "111122223333"
    assert stored.failed_step is None and stored.failure_reason is None
    assert [t.status for t in stored.history] == [Status.PENDING, Status.CREATING, Status.FAILED, Status.PENDING]


def test_reserve_racing_resume_conflicts(
    store: RequestStore, request_: VendingRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a FAILED request, and execution b which read it while it was still FAILED ...
    store.reserve(request_, A1)
    stale = store.update(request_.request_id, status=Status.FAILED, step="RecordFailed")
    # ... but a2 resumed it first
    store.reserve(request_, A2)
    monkeypatch.setattr(store, "require", lambda _rid: stale)
    # WHEN b's resume is written
    # THEN it is refused as a ReservationConflict (so the Reserve Catch goes to Rejected, not RecordFailed, which
    # would mark a2's in-flight record FAILED)
    with pytest.raises(ReservationConflict):
        store.reserve(request_, "vend-team-mlops-staging-b")


def test_update_appends_history_only_on_status_change(store: RequestStore, request_: VendingRequest) -> None:
    # GIVEN a reserved request
    store.reserve(request_, A1)
    # WHEN steps report progress, twice with the same status and once with a new one
    store.update(request_.request_id, status=Status.CREATING, step="CreateAccount")
    store.update(request_.request_id, status=Status.CREATING, step="CheckAccountStatus", account_id="111122223333")
    store.update(request_.request_id, step="CheckAccountStatus")
    record = store.update(request_.request_id, status=Status.PLACING, step="PlaceInOu")
    # THEN history has one entry per status change; fields and the last step are kept
    assert [(t.status, t.step) for t in record.history] == [
        (Status.PENDING, "Reserve"),
        (Status.CREATING, "CreateAccount"),
        (Status.PLACING, "PlaceInOu"),
    ]
    assert record.account_id == "111122223333"
    assert record.step == "PlaceInOu"
    assert store.require(request_.request_id) == record


def test_update_missing_request_raises_not_found(store: RequestStore) -> None:
    # GIVEN an empty table
    # WHEN a step updates a request that does not exist
    # THEN RequestNotFound is raised
    with pytest.raises(RequestNotFound):
        store.update("team-ghost-staging", step="CreateAccount")


def test_update_retries_after_stale_read(
    store: RequestStore, request_: VendingRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a record that another writer changes between our read and our write, once
    store.reserve(request_, A1)
    real_require = store.require
    raced = {"done": False}

    def require_then_race(request_id: str) -> RequestRecord:
        record = real_require(request_id)
        if not raced["done"]:
            raced["done"] = True
            with pytest.MonkeyPatch.context() as clock:  # a distinct timestamp, whatever the real clock says
                clock.setattr(lifecycle, "now", lambda: "2999-01-01T00:00:00.000+00:00")
                store.update(request_id, step="OtherWriter", account_email="other@example.com")
        return record

    monkeypatch.setattr(store, "require", require_then_race)
    # WHEN our update runs
    record = store.update(request_.request_id, status=Status.CREATING, step="CreateAccount", account_id="1" * 12)
    # THEN it lost the first race, re-read and applied on top of the other writer's change
    assert record.account_email == "other@example.com"
    assert record.account_id == "1" * 12
    assert record.status == Status.CREATING
    assert real_require(request_.request_id) == record


def test_update_gives_up_after_repeated_races(
    store: RequestStore, request_: VendingRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a record whose stored version never matches what we read
    store.reserve(request_, A1)
    stale = store.require(request_.request_id).model_copy(update={"version": 0})
    monkeypatch.setattr(store, "require", lambda _rid: stale)
    # WHEN we update it
    # THEN after the retries a retryable ConcurrentUpdate is raised
    with pytest.raises(ConcurrentUpdate):
        store.update(request_.request_id, step="CreateAccount")


def test_update_same_millisecond_race_loses_no_write(
    store: RequestStore, request_: VendingRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a clock that does not move (two Lambdas writing within the same millisecond)
    monkeypatch.setattr(lifecycle, "now", lambda: "2025-03-14T09:26:53.123+00:00")
    store.reserve(request_, A1)
    stale = store.require(request_.request_id)
    # ... another writer records the account e-mail after our read
    store.update(request_.request_id, step="CreateAccount", account_email="aws+team-mlops-staging@example.com")
    real_require = store.require
    reads = iter([stale])
    monkeypatch.setattr(store, "require", lambda rid: next(reads, None) or real_require(rid))
    # WHEN our update, based on the stale read, is written
    store.update(request_.request_id, step="CheckAccountStatus", account_id="111122223333")
    # THEN both changes survive
    final = real_require(request_.request_id)
    assert final.account_id == "111122223333"
    assert final.account_email == "aws+team-mlops-staging@example.com"


def test_put_other_client_errors_propagate(
    store: RequestStore, request_: VendingRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN DynamoDB throttling the write
    def throttled(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}}, "PutItem")

    monkeypatch.setattr(store._items.client, "put_item", throttled)
    # WHEN the request is reserved
    # THEN the error is not mistaken for a taken reservation
    with pytest.raises(ClientError, match="ProvisionedThroughputExceeded"):
        store.reserve(request_, A1)


def test_list_filters_by_team_and_status(store: RequestStore, make_request: Any) -> None:
    # GIVEN three requests of two teams, one READY
    store.reserve(make_request(), A1)
    store.reserve(make_request(stage="production"), "vend-team-mlops-production-a1")
    store.reserve(make_request(team="team-backend"), "vend-team-backend-staging-a1")
    store.update("team-backend-staging", status=Status.READY, step="RecordReady")
    # WHEN listed with filters
    # THEN only the matching records come back, sorted by id
    assert [r.request_id for r in store.list()] == [
        "team-backend-staging",
        "team-mlops-production",
        "team-mlops-staging",
    ]
    assert [r.request_id for r in store.list(team="team-mlops")] == ["team-mlops-production", "team-mlops-staging"]
    assert [r.request_id for r in store.list(status="READY")] == ["team-backend-staging"]


def test_status_in_flight_excludes_terminal_states() -> None:
    # GIVEN the status set
    # WHEN in-flight is computed
    # THEN only READY, FAILED, and day 2's PENDING_CLOSURE and CLOSED (the account is gone or going: a re-onboarded
    # team gets a new one) are terminal
    assert set(Status) - {Status.READY, Status.FAILED, Status.PENDING_CLOSURE, Status.CLOSED} == lifecycle.IN_FLIGHT


def test_reserve_after_closure_opens_a_new_generation(store: RequestStore, request_: VendingRequest) -> None:
    # GIVEN a request whose account was retired and closed
    store.reserve(request_, A1)
    store.update(
        request_.request_id,
        status=Status.CLOSED,
        step="CloseAccount",
        account_id="111122223333",
        account_email="aws+team-mlops-staging@example.com",
        state_bucket="tfstate-111122223333-us-east-1",
    )
    # WHEN the team is onboarded again
    again = store.reserve(request_, A2)
    # THEN a fresh PENDING record of the next generation is stored, with no account, and the old one remembered
    assert again == store.require(request_.request_id)
    assert again.status == Status.PENDING and again.generation == 1
    assert again.account_id is None and again.account_email is None and again.state_bucket is None
    assert again.retired_accounts == ["111122223333"]
