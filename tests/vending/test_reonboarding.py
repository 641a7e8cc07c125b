# ruff: noqa: F811  (the fixtures imported from test_changes are the parameters of these tests)
"""A team re-onboarded after its account was decommissioned (issue 23): queued for closure (RETIRING/SUSPENDED) it is
refused naming the pending closure, nothing started; once CloseAccount is requested (PENDING_CLOSURE) or done, the
team gets a new account at once, and the closure queue finishing the old one never touches the new record."""

from __future__ import annotations

import boto3
import pytest

from tests.vending.test_changes import REGION, frontend  # noqa: F401
from vending.exceptions import ReservationConflict
from vending.lifecycle import RequestRecord, RequestStore, Status
from vending.request import parse_request
from vending.retirement import ClosureItem, _record
from vending.service import Outcome, submit_request


@pytest.fixture
def vending_machine(aws: None) -> str:
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName="vending-sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    return str(
        boto3.client("stepfunctions", region_name=REGION).create_state_machine(
            name="AccountVending",
            roleArn=role,
            definition='{"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}',
        )["stateMachineArn"]
    )


def _executions(machine: str) -> list[str]:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    return [e["name"] for e in sfn.list_executions(stateMachineArn=machine)["executions"]]


@pytest.mark.parametrize("status", [Status.RETIRING, Status.SUSPENDED])
def test_reonboarding_while_queued_for_closure_is_refused_naming_it(
    frontend: RequestRecord, store: RequestStore, vending_machine: str, status: Status
) -> None:
    # GIVEN the account was decommissioned and waits in the closure queue
    queued = store.update(
        frontend.request_id, status=status, step="Quarantine", execution_name="retire-team-frontend-staging-g0-a1"
    )
    sfn = boto3.client("stepfunctions", region_name=REGION)
    # WHEN the team is onboarded again THEN it is refused naming the account, the closure and what to do
    with pytest.raises(ReservationConflict) as refused:
        submit_request(sfn, store, vending_machine, parse_request(frontend.request))
    message = str(refused.value)
    assert f"account {frontend.account_id} is {status.value}" in message
    assert "queued for closure" in message and "vend account closures --drain" in message
    # AND nothing started, nothing changed
    assert _executions(vending_machine) == []
    assert store.require(frontend.request_id) == queued


@pytest.mark.parametrize("status", [Status.PENDING_CLOSURE, Status.CLOSED])
def test_reonboarding_after_the_closure_was_requested_gets_a_new_account(
    frontend: RequestRecord, store: RequestStore, vending_machine: str, status: Status
) -> None:
    # GIVEN CloseAccount was accepted for the old account (AWS finishes it within 90 days) or it is closed
    old_account = str(frontend.account_id)
    store.update(frontend.request_id, status=status, step="CloseAccount", execution_name="retire-x-g0-a1")
    sfn = boto3.client("stepfunctions", region_name=REGION)
    # WHEN the team is onboarded again
    result = submit_request(sfn, store, vending_machine, parse_request(frontend.request))
    # THEN a new vending attempt starts, and its Reserve step re-opens the record for a new account (generation 1)
    assert result.outcome == Outcome.RESUMED and _executions(vending_machine) == [result.execution_name]
    reopened = store.reserve(parse_request(frontend.request), result.execution_name)
    assert (reopened.status, reopened.account_id, reopened.generation) == (Status.PENDING, None, 1)
    assert reopened.retired_accounts == [old_account]
    # AND the closure queue promoting the old account to CLOSED later leaves the new record alone
    _record(store, ClosureItem(account_id=old_account, request_id=frontend.request_id), Status.CLOSED)
    assert store.require(frontend.request_id) == reopened
