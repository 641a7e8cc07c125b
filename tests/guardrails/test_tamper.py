"""Tampering as a team (or a careless admin) would, on the emulated organization: each is a finding, remediation
restores the intent from the vending records (never from the tampered state), a second audit is clean."""

from __future__ import annotations

from typing import Any

import pytest

from scps.render import render
from tests.guardrails.conftest import ou_id, policy_id, vend_with_record
from tests.guardrails.effective import actual_levels, effective, intended_levels
from tests.organization_pages import all_policies
from vending.guardrails import reconcile_organization
from vending.guardrails.audit import AuditReport, audit_organization
from vending.guardrails.intent import build_intent
from vending.layout import Layout
from vending.lifecycle import RequestRecord

SCP = "SERVICE_CONTROL_POLICY"


class Org:
    def __init__(self, org: Any, layout: Layout) -> None:
        self.org, self.layout = org, layout
        self.ids: dict[str, str] = {}
        self.records: list[RequestRecord] = []
        for team, stage in (("team-frontend", "staging"), ("team-backend", "production"), ("team-mlops", "staging")):
            account_id, record = vend_with_record(org, layout, team, stage)
            self.ids[f"{team}-{stage}"] = account_id
            self.records.append(record)
        reconcile_organization(org, layout, dry_run=False, records=self.records)
        assert audit_organization(org, layout, records=self.records).findings == []

    def tags(self, account: str) -> dict[str, str]:
        return {t["Key"]: t["Value"] for t in self.org.list_tags_for_resource(ResourceId=account)["Tags"]}

    def direct(self, target: str) -> set[str]:
        return {p["Name"] for p in self.org.list_policies_for_target(TargetId=target, Filter=SCP)["Policies"]}

    def parent(self, account: str) -> str:
        return str(self.org.list_parents(ChildId=account)["Parents"][0]["Id"])

    def retag(self, account: str, **tags: str) -> None:
        self.org.tag_resource(
            ResourceId=account, Tags=[{"Key": k.replace("_", "-"), "Value": v} for k, v in tags.items()]
        )

    def move(self, account: str, path: str) -> None:
        self.org.move_account(
            AccountId=account, SourceParentId=self.parent(account), DestinationParentId=ou_id(self.org, path)
        )

    def remediate(self) -> tuple[AuditReport, AuditReport]:
        """Audit + remediate, then the second audit; asserts the remediation had nothing it could not fix."""
        fixed = audit_organization(self.org, self.layout, records=self.records, remediate=True)
        assert fixed.remediation is not None and fixed.remediation["unfixable"] == []
        return fixed, audit_organization(self.org, self.layout, records=self.records)

    def assert_at_intent(self) -> None:
        """Every vended account's effective permissions are exactly its intent's (see effective.py)."""
        from moto.organizations.models import organizations_backends

        management = self.org.describe_organization()["Organization"]["MasterAccountId"]
        backend = organizations_backends[management]["aws"]
        rendered = render(self.layout)
        for account_id, intent in build_intent(self.layout, self.records).accounts.items():
            actual = effective(actual_levels(backend, account_id), account_id)
            wanted = effective(intended_levels(self.layout, rendered, intent), account_id)
            assert actual == wanted, (account_id, actual.more_permissive_than(wanted))


@pytest.fixture
def vended(org: Any, layout: Layout) -> Org:
    return Org(org, layout)


def _found(report: AuditReport) -> list[tuple[str, str]]:
    return sorted((f.type, f.target) for f in report.findings)


def test_tamper_gpu_tier_tag_never_grants_training(vended: Org) -> None:
    # GIVEN a tier-none account that tags itself gpu-tier=training
    account = vended.ids["team-frontend-staging"]
    vended.retag(account, gpu_tier="training")
    # WHEN audited and remediated
    fixed, again = vended.remediate()
    # THEN it is tag drift, the training policy is never attached, the tag is restored from the record
    assert _found(fixed) == [("tag_drift", f"account:{account}")]
    assert not any("vend-gpu-training" in step for step in fixed.remediation["executed"])  # type: ignore[index]
    assert vended.direct(account) == {"FullAWSAccess", "vend-gpu-none", "vend-team-team-frontend-staging"}
    assert vended.tags(account)["gpu-tier"] == "none"
    assert again.findings == []
    vended.assert_at_intent()


def test_tamper_stage_tag_flip_does_not_move_to_production(vended: Org) -> None:
    account = vended.ids["team-frontend-staging"]
    staging = ou_id(vended.org, "Workloads/Staging")
    vended.retag(account, stage="production")
    fixed, again = vended.remediate()
    assert _found(fixed) == [("tag_drift", f"account:{account}")]
    assert not any(step.startswith("move_account") for step in fixed.remediation["executed"])  # type: ignore[index]
    assert vended.parent(account) == staging and vended.tags(account)["stage"] == "staging"
    assert again.findings == []
    vended.assert_at_intent()


def test_tamper_team_tag_rewrite_writes_no_foreign_cost_center(vended: Org, layout: Layout) -> None:
    # GIVEN the frontend account claiming to be team-mlops (and, separately, the backend one with mlops' cost center)
    frontend, backend = vended.ids["team-frontend-staging"], vended.ids["team-backend-production"]
    mlops = layout.team("team-mlops")
    assert mlops is not None
    vended.retag(frontend, team="team-mlops")
    vended.retag(backend, team="team-mlops", cost_center=mlops.cost_center)
    fixed, again = vended.remediate()
    assert _found(fixed) == sorted([("tag_drift", f"account:{frontend}"), ("tag_drift", f"account:{backend}")])
    # THEN each account gets back its own record's team and cost center, never mlops'
    assert (vended.tags(frontend)["team"], vended.tags(frontend)["cost-center"]) == ("team-frontend", "CC-1001")
    assert (vended.tags(backend)["team"], vended.tags(backend)["cost-center"]) == ("team-backend", "CC-1002")
    assert again.findings == []


def test_tamper_team_account_moved_into_platform_keeps_gpu_policy(vended: Org) -> None:
    # GIVEN a training-tier team account moved into the Platform OU
    account = vended.ids["team-mlops-staging"]
    vended.move(account, "Platform")
    fixed, again = vended.remediate()
    # THEN it is a team account outside the workload OUs (so outside their fences), moved back, and its GPU policy is
    # never detached
    assert _found(fixed) == [
        ("effective_permissions", f"account:{account}"),
        ("team_account_outside_workloads", f"account:{account}"),
    ]
    # Platform carries neither the stage OUs' cost-tag fence nor their protection of the invocation log group and of
    # the usage forwarding (its rule, passing its role; the role itself stays in the baseline's ProtectPlatformRoles)
    assert fixed.findings[-1].detail.endswith(
        ": run untagged, invocation log group deleted, usage forwarding rule deleted, usage forwarding rule disabled, "
        "usage forwarding rule repatterned, usage forwarding rule retargeted, usage forwarding rule untargeted, "
        "usage forwarding role passed"
    )
    assert fixed.remediation["executed"] == [  # type: ignore[index]
        f"move_account account:{account} from=Platform to=Workloads/Staging"
    ]
    assert vended.parent(account) == ou_id(vended.org, "Workloads/Staging")
    assert vended.direct(account) == {"FullAWSAccess", "vend-gpu-training", "vend-team-team-mlops-staging"}
    assert again.findings == []
    vended.assert_at_intent()


def test_tamper_rogue_account_in_workload_ou_is_quarantined(vended: Org) -> None:
    # GIVEN an account with a foreign e-mail and self-asserted tags in the production OU
    org = vended.org
    rogue = org.create_account(
        Email="ops@not-ours.example",
        AccountName="helper",
        Tags=[
            {"Key": "team", "Value": "team-mlops"},
            {"Key": "stage", "Value": "production"},
            {"Key": "cost-center", "Value": "CC-1003"},
            {"Key": "gpu-tier", "Value": "training"},
        ],
    )["CreateAccountStatus"]["AccountId"]
    vended.move(rogue, "Workloads/Production")
    fixed, again = vended.remediate()
    # THEN it is an unknown account; remediation quarantines it without giving it any GPU tier or tag
    assert _found(fixed) == [("unknown_account", f"account:{rogue}")]
    assert vended.parent(rogue) == ou_id(org, "Suspended")
    assert vended.direct(rogue) == {"FullAWSAccess"}
    assert again.findings == [] and again.notes == [f"account:{rogue}: unknown account, quarantined in Suspended"]
    vended.assert_at_intent()


def test_tamper_unrendered_vend_policy_is_reported_before_removal(vended: Org) -> None:
    # GIVEN a vend- policy the layout does not render, attached to an account and to the staging OU
    org, account = vended.org, vended.ids["team-backend-production"]
    content = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'
    pid = org.create_policy(Name="vend-gpu-unlimited", Description="", Type=SCP, Content=content)["Policy"][
        "PolicySummary"
    ]["Id"]
    org.attach_policy(PolicyId=pid, TargetId=account)
    org.attach_policy(PolicyId=pid, TargetId=ou_id(org, "Workloads/Staging"))
    # WHEN a dry audit runs THEN it is a finding naming both targets, and nothing is deleted
    dry = audit_organization(org, vended.layout, records=vended.records)
    assert _found(dry) == [("unrendered_policy", "policy:vend-gpu-unlimited")]
    assert f"account:{account}" in dry.findings[0].detail and "ou:Workloads/Staging" in dry.findings[0].detail
    assert policy_id(org, "vend-gpu-unlimited") == pid
    # WHEN remediated THEN the same finding is reported, then it is detached everywhere and deleted
    fixed, again = vended.remediate()
    assert _found(fixed) == _found(dry)
    assert fixed.remediation["executed"][-1] == "delete_policy vend-gpu-unlimited -> policy:vend-gpu-unlimited"  # type: ignore[index]
    assert "vend-gpu-unlimited" not in {p["Name"] for p in all_policies(org, SCP)}
    assert again.findings == []
    vended.assert_at_intent()
