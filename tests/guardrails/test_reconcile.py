"""apply_account_guardrails (the ApplyGuardrails contract) and reconcile_organization on a moto organization."""

from __future__ import annotations

import json
from typing import Any

import pytest

from scps.render import render
from tests.guardrails.conftest import ou_id, policy_id, vend_account
from vending.exceptions import InvalidRequest
from vending.guardrails import GuardrailResult, apply_account_guardrails, reconcile_organization
from vending.layout import Layout


def _attached(org: Any, target: str) -> set[str]:
    return {
        p["Name"] for p in org.list_policies_for_target(TargetId=target, Filter="SERVICE_CONTROL_POLICY")["Policies"]
    }


def test_apply_account_guardrails_attaches_ou_and_tier_policies(org: Any, layout: Layout) -> None:
    # GIVEN a new training-tier account placed in the staging OU
    account = org.create_account(Email="aws+team-mlops-staging@example.com", AccountName="mlops")[
        "CreateAccountStatus"
    ]["AccountId"]
    root = org.list_roots()["Roots"][0]["Id"]
    org.move_account(AccountId=account, SourceParentId=root, DestinationParentId=ou_id(org, "Workloads/Staging"))
    # WHEN ApplyGuardrails runs
    result = apply_account_guardrails(
        org, layout, account_id=account, team="team-mlops", stage="staging", gpu_tier="training"
    )
    # THEN SCPs are enabled, Workloads carries its policies, the account its tier, and the result names them all
    assert isinstance(result, GuardrailResult) and result.in_expected_ou
    assert result.policies == (
        "FullAWSAccess",
        "vend-gpu-training",
        "vend-team-team-mlops-staging",
        "vend-workloads-1",
        "vend-workloads-2",
        "vend-workloads-3",
        "vend-workloads-staging-1",
        "vend-workloads-staging-2",
        "vend-workloads-staging-3",
    )
    assert _attached(org, ou_id(org, "Workloads/Staging")) == {
        "FullAWSAccess",
        "vend-workloads-staging-1",
        "vend-workloads-staging-2",
        "vend-workloads-staging-3",
    }
    assert _attached(org, ou_id(org, "Workloads")) == {
        "FullAWSAccess",
        "vend-workloads-1",
        "vend-workloads-2",
        "vend-workloads-3",
    }
    assert _attached(org, account) == {"FullAWSAccess", "vend-gpu-training", "vend-team-team-mlops-staging"}
    assert result.to_dict()["ou_path"] == "Workloads/Staging"
    assert org.list_roots()["Roots"][0]["PolicyTypes"] == [
        {"Type": "SERVICE_CONTROL_POLICY", "Status": "ENABLED"},
        {"Type": "TAG_POLICY", "Status": "ENABLED"},
    ]
    # AND the tag policies: the org-wide one on the stage OU, the team's own (its team and cost-center values) on
    # the account
    tags = {"Filter": "TAG_POLICY"}
    on_ou = org.list_policies_for_target(TargetId=ou_id(org, "Workloads/Staging"), **tags)["Policies"]
    on_account = org.list_policies_for_target(TargetId=account, **tags)["Policies"]
    assert [p["Name"] for p in on_ou] == ["vend-tags"] and [p["Name"] for p in on_account] == ["vend-tags-team-mlops"]
    content = json.loads(org.describe_policy(PolicyId=on_account[0]["Id"])["Policy"]["Content"])
    assert content["tags"]["team"]["tag_value"]["@@assign"] == ["team-mlops"]


def test_apply_account_guardrails_idempotent_and_switches_tier(org: Any, layout: Layout) -> None:
    # GIVEN an account already vended
    account = vend_account(org, layout, "team-backend", "production")
    # WHEN ApplyGuardrails runs again THEN nothing changes
    again = apply_account_guardrails(
        org, layout, account_id=account, team="team-backend", stage="production", gpu_tier="inference"
    )
    assert again.changes == ()
    # WHEN the tier changes THEN the new tier policy is attached before the old one is detached
    moved = apply_account_guardrails(
        org, layout, account_id=account, team="team-backend", stage="production", gpu_tier="training"
    )
    assert [c.split(" -> ")[0] for c in moved.changes if "->" in c] == [
        "attach vend-gpu-training",
        "detach vend-gpu-inference",
    ]
    assert _attached(org, account) == {"FullAWSAccess", "vend-gpu-training", "vend-team-team-backend-production"}


def test_apply_account_guardrails_refuses_management_account(org: Any, layout: Layout) -> None:
    management = org.describe_organization()["Organization"]["MasterAccountId"]
    with pytest.raises(InvalidRequest):
        apply_account_guardrails(
            org, layout, account_id=management, team="team-mlops", stage="staging", gpu_tier="training"
        )


def test_apply_account_guardrails_creates_missing_ou_path(aws: None, layout: Layout) -> None:
    import boto3

    # GIVEN an organization with no OUs at all
    org = boto3.client("organizations", region_name="us-east-1")
    org.create_organization(FeatureSet="ALL")
    account = org.create_account(Email="aws+team-frontend-staging@example.com", AccountName="fe")[
        "CreateAccountStatus"
    ]["AccountId"]
    # WHEN ApplyGuardrails runs THEN the stage OU path exists and carries its policies
    result = apply_account_guardrails(
        org, layout, account_id=account, team="team-frontend", stage="staging", gpu_tier="none"
    )
    assert result.ou_id == ou_id(org, "Workloads/Staging")
    assert not result.in_expected_ou  # placement is PlaceInOu's job; the audit reports it


def test_reconcile_second_run_has_no_changes(org: Any, layout: Layout) -> None:
    # GIVEN a vended account and an org never reconciled as a whole
    vend_account(org, layout, "team-frontend", "staging")
    # WHEN reconcile runs twice
    first = reconcile_organization(org, layout, dry_run=False)
    second = reconcile_organization(org, layout, dry_run=True)
    # THEN the first run changed things and the second plans nothing
    assert first.executed and first.changes > 0
    assert second.changes == 0 and second.findings == []


def test_reconcile_never_leaves_a_target_without_scps(org: Any, layout: Layout) -> None:
    # GIVEN a layout that forbids FullAWSAccess on Suspended (the packaged one no longer does: an SCP allow-list binds
    # the platform's roles too), and the Suspended OU with only FullAWSAccess
    guardrails = layout.guardrails.model_copy(update={"deny_full_aws_access": ("Suspended",)})
    layout = layout.model_copy(update={"guardrails": guardrails})
    plan = reconcile_organization(org, layout, dry_run=True)
    steps = [(a.kind, a.policy) for a in plan.actions if a.target == "ou:Suspended"]
    # THEN the quarantine policy is attached before FullAWSAccess is detached, and the run succeeds on moto-as-AWS
    quarantine = sorted(render(layout).ou_policies["Suspended"])  # however many the packing makes
    assert quarantine and steps == [*(("attach", name) for name in quarantine), ("detach", "FullAWSAccess")]
    reconcile_organization(org, layout, dry_run=False)
    assert _attached(org, ou_id(org, "Suspended")) == set(quarantine)


def test_reconcile_dry_run_changes_nothing(org: Any, layout: Layout) -> None:
    plan = reconcile_organization(org, layout, dry_run=True)
    assert plan.changes > 0 and not plan.executed
    assert reconcile_organization(org, layout, dry_run=True).changes == plan.changes


def test_reconcile_makes_room_when_target_is_full(org: Any, layout: Layout) -> None:
    # GIVEN Workloads already at the 5-SCP quota with foreign policies (FullAWSAccess, 2 of ours, 2 foreign)
    reconcile_organization(org, layout, dry_run=False)
    workloads = ou_id(org, "Workloads")
    org.detach_policy(PolicyId=policy_id(org, "vend-workloads-2"), TargetId=workloads)
    for i in range(2):
        pid = org.create_policy(
            Name=f"legacy-{i}",
            Description="",
            Type="SERVICE_CONTROL_POLICY",
            Content='{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"x:Y","Resource":"*"}]}',
        )["Policy"]["PolicySummary"]["Id"]
        org.attach_policy(PolicyId=pid, TargetId=workloads)
    # WHEN reconcile runs THEN it detaches one foreign policy first, attaches ours, then detaches the rest
    plan = reconcile_organization(org, layout, dry_run=False)
    assert [(a.kind, a.policy) for a in plan.actions if a.target == "ou:Workloads"] == [
        ("detach", "legacy-0"),
        ("attach", "vend-workloads-2"),
        ("detach", "legacy-1"),
    ]
