"""vending.retirement: quarantine, the Suspended OU, the state archive, and the closure queue under Organizations'
closure quota (Stubber: moto closes at once and has no quota or PENDING_CLOSURE)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

import step_functions
from tests.organization_pages import all_policies
from vending.functions import LIFECYCLE_KEYS, by_key
from vending.guardrails.account import apply_account_guardrails
from vending.layout import Layout
from vending.lifecycle import RequestStore, Status
from vending.request import VendingRequest
from vending.retirement import (
    ARCHIVE_RETENTION_DAYS,
    ClosureQueue,
    ClosureStatus,
    archive_state,
    drain_closures,
    ensure_archive_bucket,
    retire_account,
)

REGION = "us-east-1"
CLOSURES = "vending-closures"


@pytest.fixture
def queue(ddb: Any) -> ClosureQueue:
    ddb.create_table(
        TableName=CLOSURES,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "account_id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "account_id", "KeyType": "HASH"}],
    )
    return ClosureQueue(ddb, CLOSURES)


def _ready(store: RequestStore, request: VendingRequest, account_id: str) -> None:
    store.reserve(request, f"vend-{request.request_id}-a1")
    store.update(request.request_id, status=Status.READY, step="RecordReady", account_id=account_id)


def _names(org: Any, target: str) -> set[str]:
    return {
        p["Name"] for p in org.list_policies_for_target(TargetId=target, Filter="SERVICE_CONTROL_POLICY")["Policies"]
    }


def test_lifecycle_asl_placeholders_are_declared_functions() -> None:
    # GIVEN the AccountLifecycle file THEN every placeholder is a declared function of LIFECYCLE_KEYS and vice versa
    assert step_functions.placeholders(step_functions.LIFECYCLE_ASL_PATH) == {f"{k}FunctionArn" for k in LIFECYCLE_KEYS}
    assert all(by_key(k).handler.startswith("vending.") for k in LIFECYCLE_KEYS)


def test_retire_account_quarantines_then_parks_in_suspended(
    org: Any, store: RequestStore, layout: Layout, request_: VendingRequest, member_account: Callable[[str, str], str]
) -> None:
    # GIVEN team-mlops/staging READY with its workload guardrails
    account = member_account(layout.account_email("team-mlops", "staging"), "team-mlops-staging")
    apply_account_guardrails(org, layout, account_id=account, team="team-mlops", stage="staging", gpu_tier="training")
    _ready(store, request_, account)
    # WHEN it is retired
    record = retire_account(org, store, layout, request_.request_id, "retire-a1")
    # THEN the tier policy is off the account, the quarantine policy is on it beside FullAWSAccess (the quarantine is
    # a Deny that exempts the platform's roles; an allow-list would bind them too)
    attached = _names(org, account)
    assert "vend-gpu-training" not in attached
    assert attached == {"FullAWSAccess", "vend-suspended-1"} | ({"vend-suspended-2"} & attached)
    quarantine = [p for p in all_policies(org, "SERVICE_CONTROL_POLICY") if p["Name"] in attached]
    docs = [json.loads(org.describe_policy(PolicyId=p["Id"])["Policy"]["Content"]) for p in quarantine]
    assert any(s.get("Sid") == "QuarantineReadOnly" and s["Effect"] == "Deny" for d in docs for s in d["Statement"])
    # AND the account is in the Suspended OU, the record went RETIRING -> SUSPENDED
    parent = org.list_parents(ChildId=account)["Parents"][0]["Id"]
    assert org.describe_organizational_unit(OrganizationalUnitId=parent)["OrganizationalUnit"]["Name"] == "Suspended"
    assert record.status == Status.SUSPENDED and record.ou_path == "Suspended"
    assert [t.status for t in record.history][-2:] == [Status.RETIRING, Status.SUSPENDED]
    # AND re-running it (a retry after a crash) changes nothing
    again = retire_account(org, store, layout, request_.request_id, "retire-a2")
    assert again.status == Status.SUSPENDED and _names(org, account) == attached


def test_quarantine_of_a_full_account_never_lifts_a_deny_while_anything_is_allowed(
    org: Any, layout: Layout, member_account: Callable[[str, str], str]
) -> None:
    from vending.retirement import quarantine_account

    # GIVEN a READY account at the 5-SCP quota: FullAWSAccess, its tier and team policies, two of the customer's own
    account = member_account(layout.account_email("team-mlops", "staging"), "team-mlops-staging")
    apply_account_guardrails(org, layout, account_id=account, team="team-mlops", stage="staging", gpu_tier="training")
    deny = '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"ec2:*","Resource":"*"}]}'
    for i in range(2):
        made = org.create_policy(Name=f"customer-{i}", Description="d", Type="SERVICE_CONTROL_POLICY", Content=deny)
        org.attach_policy(PolicyId=made["Policy"]["PolicySummary"]["Id"], TargetId=account)
    # WHEN it is quarantined
    changes = quarantine_account(org, layout, account)
    # THEN FullAWSAccess comes off first and goes back once the quarantine is on: the tier deny, whose slot the
    # quarantine needs, never comes off while anything is allowed without the quarantine
    assert [c for c in changes if c.endswith(account) and "tag_policy" not in c] == [
        f"detach FullAWSAccess -> {account}",
        f"attach vend-suspended-1 -> {account}",
        f"detach vend-gpu-training -> {account}",
        f"attach FullAWSAccess -> {account}",
        f"detach vend-team-team-mlops-staging -> {account}",
    ]
    assert _names(org, account) == {"FullAWSAccess", "vend-suspended-1", "customer-0", "customer-1"}


def test_retire_account_with_stacks_to_destroy_stays_quarantined_in_place_until_suspended(
    org: Any, store: RequestStore, layout: Layout, request_: VendingRequest, member_account: Callable[[str, str], str]
) -> None:
    # GIVEN team-mlops/staging READY in its staging OU
    account = member_account(layout.account_email("team-mlops", "staging"), "team-mlops-staging")
    apply_account_guardrails(org, layout, account_id=account, team="team-mlops", stage="staging", gpu_tier="training")
    _ready(store, request_, account)
    root = org.list_roots()["Roots"][0]["Id"]
    staging = next(
        o["Id"]
        for w in org.list_organizational_units_for_parent(ParentId=root)["OrganizationalUnits"]
        if w["Name"] == "Workloads"
        for o in org.list_organizational_units_for_parent(ParentId=w["Id"])["OrganizationalUnits"]
        if o["Name"] == "Staging"
    )
    org.move_account(AccountId=account, SourceParentId=root, DestinationParentId=staging)
    # WHEN it is retired with its stacks still to destroy
    record = retire_account(org, store, layout, request_.request_id, "retire-a1", suspend=False)
    # THEN it is quarantined at once but stays RETIRING where it is (the pipeline destroys its stacks first)
    assert "vend-suspended-1" in _names(org, account) and "vend-gpu-training" not in _names(org, account)
    assert record.status == Status.RETIRING and org.list_parents(ChildId=account)["Parents"][0]["Id"] == staging
    # WHEN the destroys are done and SuspendAccount calls it again (same execution)
    suspended = retire_account(org, store, layout, request_.request_id, "retire-a1")
    # THEN it is parked in Suspended
    assert suspended.status == Status.SUSPENDED and suspended.ou_path == "Suspended"


def test_lifecycle_asl_destroys_stacks_before_suspension_only_when_asked() -> None:
    states = json.loads(step_functions.LIFECYCLE_ASL_PATH.read_text(encoding="utf-8"))["States"]
    # RetireAccount -> DestroyStacks? -> (stacks given) StartDestroys -> CheckDestroys (the same task-token step)
    # -> DestroysDone? -> StacksDestroyed -> SuspendAccount -> ArchiveState; (none given) -> ArchiveState
    assert states["RetireAccount"]["Next"] == "DestroyStacks?"
    choice = states["DestroyStacks?"]
    assert choice["Choices"] == [{"Variable": "$.destroy_stacks[0]", "IsPresent": True, "Next": "StartDestroys"}]
    assert choice["Default"] == "ArchiveState"
    assert states["StartDestroys"]["Resource"] == "${StartChangePipelinesFunctionArn}"
    assert states["StartDestroys"]["Next"] == "CheckDestroys"
    assert states["CheckDestroys"]["Resource"].endswith("waitForTaskToken")
    assert states["CheckDestroys"]["Parameters"]["FunctionName"] == "${CheckPipelinesFunctionArn}"
    assert states["DestroysDone?"]["Choices"][0]["Next"] == "StacksDestroyed"
    assert states["DestroysDone?"]["Default"] == "WaitForDestroyApproval"
    assert states["WaitForDestroyApproval"]["Next"] == "CheckDestroys"
    assert states["StacksDestroyed"]["ResultPath"] == "$.stacks_destroyed"
    assert states["SuspendAccount"]["Resource"] == "${RetireAccountFunctionArn}"
    assert states["SuspendAccount"]["Next"] == "ArchiveState"
    # AND every failure on the way goes to the retirement's failure path
    for name in ("StartDestroys", "CheckDestroys", "SuspendAccount"):
        assert [c["Next"] for c in states[name]["Catch"]] == ["RetirementFailed"]


def test_archive_state_copies_every_version(aws: None) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="tfstate-111122223333-us-east-1")
    s3.put_bucket_versioning(Bucket="tfstate-111122223333-us-east-1", VersioningConfiguration={"Status": "Enabled"})
    key = "team-mlops/staging/bootstrap/terraform.tfstate"
    for serial in (1, 2, 3):
        s3.put_object(Bucket="tfstate-111122223333-us-east-1", Key=key, Body=json.dumps({"serial": serial}).encode())
    s3.put_object(Bucket="tfstate-111122223333-us-east-1", Key="old.tfstate", Body=b'{"serial": 0}')
    s3.delete_object(Bucket="tfstate-111122223333-us-east-1", Key="old.tfstate")  # leaves a delete marker
    ensure_archive_bucket(s3, "platform-archive")
    # WHEN the state is archived (twice: a retried step)
    first = archive_state(
        s3, s3, bucket="tfstate-111122223333-us-east-1", archive_bucket="platform-archive", account_id="111122223333"
    )
    second = archive_state(
        s3, s3, bucket="tfstate-111122223333-us-east-1", archive_bucket="platform-archive", account_id="111122223333"
    )
    # THEN all four versions are copied once, with a manifest, and the archive keeps them for the retention
    assert (first.versions, first.copied, first.delete_markers) == (4, 4, 1)
    assert second.copied == 0
    listed = s3.list_objects_v2(Bucket="platform-archive", Prefix="111122223333/")["Contents"]
    bodies = sorted(
        json.loads(s3.get_object(Bucket="platform-archive", Key=o["Key"])["Body"].read())["serial"]
        for o in listed
        if not o["Key"].endswith("manifest.json")
    )
    assert bodies == [0, 1, 2, 3]
    manifest = json.loads(s3.get_object(Bucket="platform-archive", Key=first.manifest_key)["Body"].read())
    assert manifest["retention_days"] == ARCHIVE_RETENTION_DAYS and len(manifest["versions"]) == 4
    rule = s3.get_bucket_lifecycle_configuration(Bucket="platform-archive")["Rules"][0]
    assert rule["Expiration"]["Days"] == ARCHIVE_RETENTION_DAYS


def _account(state: str, account_id: str) -> dict[str, Any]:
    return {"Account": {"Id": account_id, "Status": "ACTIVE" if state == "ACTIVE" else "SUSPENDED", "State": state}}


def _quota_error(stub: Stubber) -> None:
    stub.add_client_error(
        "close_account",
        service_error_code="ConstraintViolationException",
        service_message="You have exceeded close account quota for the past 30 days.",
        http_status_code=400,
        response_meta={},
        modeled_fields={"Reason": "CLOSE_ACCOUNT_QUOTA_EXCEEDED"},
    )


def test_closure_queue_keeps_backlog_under_quota_and_never_closes_twice(
    queue: ClosureQueue, store: RequestStore, make_request: Callable[..., VendingRequest]
) -> None:
    org = boto3.client("organizations", region_name=REGION)
    a, b = "111111111111", "222222222222"
    _ready(store, make_request(team="team-alpha"), a)
    _ready(store, make_request(team="team-bravo"), b)
    queue.enqueue(a, "team-alpha-staging")
    queue.enqueue(b, "team-bravo-staging")
    assert queue.enqueue(a, "team-alpha-staging").status == ClosureStatus.QUEUED  # enqueued twice: one item
    # GIVEN Organizations accepts one closure, then answers CLOSE_ACCOUNT_QUOTA_EXCEEDED
    with Stubber(org) as stub:
        stub.add_response("describe_account", _account("ACTIVE", a), {"AccountId": a})
        stub.add_response("close_account", {}, {"AccountId": a})
        stub.add_response("describe_account", _account("ACTIVE", b), {"AccountId": b})
        _quota_error(stub)
        # WHEN the queue drains
        first = drain_closures(org, queue, store)
        stub.assert_no_pending_responses()
    # THEN a is PENDING_CLOSURE, b stays in the backlog with the quota error, and the drain says why it stopped
    assert first.requested == [a] and first.backlog == [b] and first.pending == [a]
    assert "CLOSE_ACCOUNT_QUOTA_EXCEEDED" in (first.stopped_by or "")
    assert store.require("team-alpha-staging").status == Status.PENDING_CLOSURE
    assert store.require("team-bravo-staging").status == Status.READY
    assert queue.get(b).last_error and queue.get(b).status == ClosureStatus.QUEUED  # type: ignore[union-attr]
    # WHEN it drains again later: a has finished closing, and the quota has room for b
    with Stubber(org) as stub:
        stub.add_response("describe_account", _account("CLOSED", a), {"AccountId": a})
        stub.add_response("describe_account", _account("ACTIVE", b), {"AccountId": b})
        stub.add_response("close_account", {}, {"AccountId": b})
        second = drain_closures(org, queue, store)
        stub.assert_no_pending_responses()  # CloseAccount was called once for b, never again for a
    # THEN a is CLOSED, b PENDING_CLOSURE, the backlog is empty
    assert second.closed == [a] and second.requested == [b] and second.backlog == []
    assert store.require("team-alpha-staging").status == Status.CLOSED
    assert queue.get(a).status == ClosureStatus.CLOSED  # type: ignore[union-attr]


def test_closure_of_an_already_closed_account_is_recorded_not_repeated(
    queue: ClosureQueue, store: RequestStore, request_: VendingRequest
) -> None:
    org = boto3.client("organizations", region_name=REGION)
    a = "333333333333"
    _ready(store, request_, a)
    queue.enqueue(a, request_.request_id)
    # GIVEN an account closed by hand (describe says SUSPENDED) and one closed between our read and our call
    with Stubber(org) as stub:
        stub.add_response("describe_account", _account("SUSPENDED", a), {"AccountId": a})
        report = drain_closures(org, queue, store)
        stub.assert_no_pending_responses()  # no CloseAccount at all
    assert report.closed == [a] and store.require(request_.request_id).status == Status.CLOSED
    b = "444444444444"
    queue.enqueue(b, "someone-else")
    with Stubber(org) as stub:
        stub.add_response("describe_account", _account("ACTIVE", b), {"AccountId": b})
        stub.add_client_error(
            "close_account",
            service_error_code="AccountAlreadyClosedException",
            service_message="already closed",
            http_status_code=400,
        )
        report = drain_closures(org, queue, store)
    assert report.closed == [b] and queue.get(b).status == ClosureStatus.CLOSED  # type: ignore[union-attr]


def test_closure_claim_survives_a_crashed_drainer(queue: ClosureQueue, store: RequestStore) -> None:
    # GIVEN an item claimed (CLOSING) by a drainer that died before recording CloseAccount's answer
    org = boto3.client("organizations", region_name=REGION)
    item = queue.enqueue("555555555555", "team-x-staging")
    queue.move(item, ClosureStatus.CLOSING, expect=ClosureStatus.QUEUED)
    # WHEN the next drain finds the account already PENDING_CLOSURE (the call had gone through)
    with Stubber(org) as stub:
        stub.add_response(
            "describe_account", _account("PENDING_CLOSURE", "555555555555"), {"AccountId": "555555555555"}
        )
        report = drain_closures(org, queue, store)
        stub.assert_no_pending_responses()
    # THEN it is PENDING_CLOSURE, not closed a second time
    assert report.pending == ["555555555555"] and report.requested == []


def test_moto_close_account_end_to_end(
    org: Any,
    queue: ClosureQueue,
    store: RequestStore,
    request_: VendingRequest,
    member_account: Callable[[str, str], str],
) -> None:
    # GIVEN a real (moto) account queued for closure
    account = member_account("aws+closing@example.com", "closing")
    _ready(store, request_, account)
    queue.enqueue(account, request_.request_id)
    # WHEN drained twice THEN it is closed once (moto closes at once: SUSPENDED) and the second drain is a no-op
    first = drain_closures(org, queue, store)
    second = drain_closures(org, queue, store)
    assert first.requested == [account]
    assert org.describe_account(AccountId=account)["Account"]["Status"] == "SUSPENDED"
    assert second.closed == [account] and store.require(request_.request_id).status == Status.CLOSED


def test_layout_refuses_an_ou_without_full_aws_access() -> None:
    # GIVEN the packaged layout asking for FullAWSAccess off the Suspended OU (the quarantine before it became a Deny)
    import yaml

    from vending.layout import Layout

    data = yaml.safe_load((Path(__file__).resolve().parents[2] / "landing_zone" / "layout.yaml").read_text())
    data["guardrails"]["deny_full_aws_access"] = ["Suspended"]
    # WHEN it is validated THEN it is refused: an allow-list would bind the platform's roles too
    with pytest.raises(ValueError, match="lock the platform's roles out"):
        Layout.model_validate(data)


def test_retiring_an_unlisted_teams_account_deletes_the_policies_only_it_used(
    org: Any, store: RequestStore, layout: Layout, request_: VendingRequest, member_account: Callable[[str, str], str]
) -> None:
    from vending.guardrails.intent import team_layout

    # GIVEN a team the layout does not list, vended: its per-stage SCP and tag policy exist and are on its account
    unlisted = VendingRequest.model_validate({**request_.model_dump(mode="json"), "team": "team-zeta"})
    account = member_account("aws+team-zeta-staging@example.com", "team-zeta-staging")
    _ready(store, unlisted, account)
    apply_account_guardrails(
        org,
        team_layout(layout, store, "team-zeta"),
        account_id=account,
        team="team-zeta",
        stage="staging",
        gpu_tier=unlisted.gpu_tier,
    )

    def policies() -> set[str]:
        return {p["Name"] for kind in ("SERVICE_CONTROL_POLICY", "TAG_POLICY") for p in all_policies(org, kind)}

    assert {"vend-team-team-zeta-staging", "vend-tags-team-zeta"} <= policies()
    # AND a listed team's account, vended beside it (the negative control)
    listed = member_account(layout.account_email("team-mlops", "staging"), "team-mlops-staging")
    apply_account_guardrails(org, layout, account_id=listed, team="team-mlops", stage="staging", gpu_tier="training")
    _ready(store, request_, listed)
    # WHEN both are retired
    retire_account(org, store, layout, unlisted.request_id, "retire-a1")
    retire_account(org, store, layout, request_.request_id, "retire-a1")
    # THEN the unlisted team's policies, attached to nothing now, are gone; the listed team's stay (the layout renders
    # them whether an account uses them or not)
    left = policies()
    assert not {"vend-team-team-zeta-staging", "vend-tags-team-zeta"} & left
    assert {"vend-team-team-mlops-staging", "vend-tags-team-mlops"} <= left
    # AND a parked account carries no team's tag policy
    assert org.list_policies_for_target(TargetId=listed, Filter="TAG_POLICY")["Policies"] == []
