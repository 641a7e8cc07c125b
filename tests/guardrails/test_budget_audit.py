"""The audit checks each vended account's spend fence (vending.budgets.check_budget) inside the account."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from tests.guardrails.conftest import record_for, vend_with_record
from vending.budgets import ALERTS, BUDGET_NAME, ensure_budget
from vending.exceptions import AccessRoleNotReady
from vending.guardrails.audit import audit_organization, member_budgets
from vending.guardrails.reconcile import reconcile_organization
from vending.layout import Layout


@pytest.fixture
def budgets(aws: None) -> Any:
    # moto keeps budgets per AccountId, like AWS keeps them per account: one client stands in for each account's
    return boto3.client("budgets", region_name="us-east-1")


def _audit(org: Any, layout: Layout, records: list[Any], budgets: Any) -> list[tuple[str, str, str]]:
    report = audit_organization(org, layout, records=records, budgets_for=lambda _account: budgets)
    return [(f.type, f.target, f.detail) for f in report.findings]


def test_audit_budget_clean_when_every_vended_account_has_its_fence(org: Any, layout: Layout, budgets: Any) -> None:
    # GIVEN team-frontend (tier none: 500) and team-mlops (override: 40000) vended with their budgets
    records = []
    for team in ("team-frontend", "team-mlops"):
        account, record = vend_with_record(org, layout, team, "staging")
        amount = layout.monthly_budget(team, record.request["gpu_tier"])
        ensure_budget(budgets, account, amount=amount, owner_email="o@x.io")
        records.append(record)
    reconcile_organization(org, layout, dry_run=False, records=records)
    # WHEN the audit runs THEN it finds nothing and says it checked both accounts
    report = audit_organization(org, layout, records=records, budgets_for=lambda _a: budgets)
    assert report.findings == []
    assert report.budgets == {"checked": 2, "findings": 0}


def test_audit_budget_missing_wrong_amount_and_missing_alert_are_findings(
    org: Any, layout: Layout, budgets: Any
) -> None:
    # GIVEN three vended accounts: one without a budget, mlops with the tier's 25000 instead of its 40000 override,
    # backend (inference: 5000) without the 100 % forecast alert
    frontend, r1 = vend_with_record(org, layout, "team-frontend", "staging")
    mlops, r2 = vend_with_record(org, layout, "team-mlops", "staging")
    backend, r3 = vend_with_record(org, layout, "team-backend", "staging")
    ensure_budget(budgets, mlops, amount=25000, owner_email="o@x.io")
    ensure_budget(budgets, backend, amount=5000, owner_email="o@x.io")
    budgets.delete_notification(AccountId=backend, BudgetName=BUDGET_NAME, Notification=ALERTS[1].notification())
    reconcile_organization(org, layout, dry_run=False, records=[r1, r2, r3])
    # WHEN the audit runs
    found = _audit(org, layout, [r1, r2, r3], budgets)
    # THEN each problem is a finding on its account, naming the budget and the request
    assert sorted(found) == sorted(
        [
            ("budget_missing", f"account:{frontend}", f"{frontend}: no budget {BUDGET_NAME} (team-frontend-staging)"),
            (
                "budget_drift",
                f"account:{mlops}",
                f"{mlops}: budget {BUDGET_NAME} is 25000 USD, intended 40000 USD (team-mlops-staging)",
            ),
            (
                "budget_drift",
                f"account:{backend}",
                f"{backend}: budget {BUDGET_NAME} lacks the FORECASTED 100% alert (team-backend-staging)",
            ),
        ]
    )
    # AND the audit cannot fix them itself (it never writes into member accounts)
    report = audit_organization(org, layout, records=[r1, r2, r3], budgets_for=lambda _a: budgets, remediate=True)
    assert {f.type for f in report.findings if f.fixable} == set()
    assert report.remediation is not None and len(report.remediation["unfixable"]) == 3


def test_audit_budget_follows_a_tier_change_in_the_record(org: Any, layout: Layout, budgets: Any) -> None:
    # GIVEN team-frontend's budget of 500 (tier none), then its record moved to the inference tier (5000)
    account, record = vend_with_record(org, layout, "team-frontend", "staging")
    ensure_budget(budgets, account, amount=500, owner_email="o@x.io")
    upgraded = record.model_copy(update={"request": {**record.request, "gpu_tier": "inference"}})
    # THEN the stale amount is drift (the intent is the record's tier, not the account's)
    budget_drift = [f for f in _audit(org, layout, [upgraded], budgets) if f[0].startswith("budget")]
    assert budget_drift == [
        (
            "budget_drift",
            f"account:{account}",
            f"{account}: budget {BUDGET_NAME} is 500 USD, intended 5000 USD (team-frontend-staging)",
        )
    ]


@pytest.mark.parametrize("status", ["RETIRING", "SUSPENDED", "CLOSED", "CREATING", "BOOTSTRAPPING", "FAILED"])
def test_audit_budget_not_expected_before_bootstrap_or_after_retirement(
    org: Any, layout: Layout, budgets: Any, status: str
) -> None:
    # GIVEN an account with no budget whose record is retired, still vending, or FAILED
    account, _ = vend_with_record(org, layout, "team-frontend", "staging")
    record = record_for(layout, "team-frontend", "staging", account, status=status)
    # THEN no budget finding (retired accounts expect none; a vend not past Bootstrap has none yet)
    assert [f for f in _audit(org, layout, [record], budgets) if f[0].startswith("budget")] == []


def test_audit_budget_unreadable_account_is_a_finding(org: Any, layout: Layout) -> None:
    account, record = vend_with_record(org, layout, "team-frontend", "staging")

    def denied(account_id: str) -> Any:
        raise AccessRoleNotReady(f"cannot assume arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole")

    report = audit_organization(org, layout, records=[record], budgets_for=denied)
    assert [(f.type, f.target) for f in report.findings if f.type.startswith("budget")] == [
        ("budget_unreadable", f"account:{account}")
    ]
    assert report.budgets == {"checked": 0, "findings": 1}


def test_member_budgets_reads_inside_the_account_through_the_access_role(
    org: Any, layout: Layout, budgets: Any
) -> None:
    # GIVEN a budget created inside the member account (as Bootstrap does, through the access role)
    account, record = vend_with_record(org, layout, "team-frontend", "staging")
    sts = boto3.client("sts", region_name="us-east-1")
    inside = member_budgets(sts, layout.organization.access_role_name)
    ensure_budget(inside(account), account, amount=500, owner_email="o@x.io")
    calls: list[dict[str, Any]] = []
    sts.meta.events.register("provide-client-params.sts.AssumeRole", lambda params, **_: calls.append(params))
    reconcile_organization(org, layout, dry_run=False, records=[record])
    # WHEN the audit reads through the factory THEN it assumed that account's access role and found the fence
    report = audit_organization(org, layout, records=[record], budgets_for=inside)
    assert [c["RoleArn"] for c in calls] == [f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole"]
    assert report.findings == [] and report.budgets == {"checked": 1, "findings": 0}
    # AND the management account's own view does not show it (why the audit must read inside the account)
    assert _audit(org, layout, [record], budgets) == [
        ("budget_missing", f"account:{account}", f"{account}: no budget {BUDGET_NAME} (team-frontend-staging)")
    ]


def test_audit_without_member_access_says_budgets_were_not_checked(org: Any, layout: Layout) -> None:
    _, record = vend_with_record(org, layout, "team-frontend", "staging")
    report = audit_organization(org, layout, records=[record])
    assert report.budgets is None and report.to_dict()["budgets"] is None
    assert not [f for f in report.findings if f.type.startswith("budget")]
