"""The guardrail audit and the spend fence's Budgets backstop (issue 24): between Budgets attaching `vend-freeze` and
the fence's next interval recording it, the audit intends the freeze (a note, never a finding, never detached); a
`vend-freeze` planted by hand (the backstop action still STANDBY) is still reported and detached. On moto with the
emulator's budget actions, as tests/vending/test_spend_backstop.py."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from landing_zone.local.budget_actions import billing_caught_up, emulated_budget_actions
from tests.vending.conftest import REGION
from vending.budgets import backstop_action, backstop_name
from vending.guardrails.account import apply_account_guardrails
from vending.guardrails.audit import BACKSTOP_NOTE, AuditReport, audit_organization, management_backstop
from vending.layout import Layout
from vending.lifecycle import RequestRecord, RequestStore, Status
from vending.request import VendingRequest
from vending.spend.backstop import converge_backstop
from vending.spend.fence import ensure_freeze_policy

ROLE = "arn:aws:iam::123456789012:role/VendingBudgetsFreezeRole"


@pytest.fixture
def budgets(aws: None) -> Iterator[Any]:
    from landing_zone.local.lifecycle import install_update_budget

    install_update_budget()
    with emulated_budget_actions():
        yield boto3.client("budgets", region_name="us-east-1")


@pytest.fixture
def mgmt(aws: None) -> str:
    return str(boto3.client("sts", region_name=REGION).get_caller_identity()["Account"])


@pytest.fixture
def vended(org: Any, layout: Layout, store: RequestStore, request_: VendingRequest, budgets: Any, mgmt: str) -> str:
    """team-mlops staging READY, guardrails on, its backstop laid down (action STANDBY)."""
    account = str(
        org.create_account(Email="mlops@example.com", AccountName="team-mlops-staging")["CreateAccountStatus"][
            "AccountId"
        ]
    )
    apply_account_guardrails(
        org, layout, account_id=account, team=request_.team, stage=request_.stage, gpu_tier=request_.gpu_tier
    )
    store.reserve(request_, "vend-team-mlops-staging-a1")
    store.update(request_.request_id, status=Status.READY, step="RecordReady", account_id=account)
    boto3.client("iam", region_name=REGION).create_role(
        RoleName="VendingBudgetsFreezeRole", AssumeRolePolicyDocument="{}"
    )
    converge_backstop(
        budgets,
        org,
        layout,
        management_account_id=mgmt,
        account_id=account,
        team=request_.team,
        gpu_tier=request_.gpu_tier,
        owner_email="owner@example.com",
        execution_role_arn=ROLE,
    )
    return account


class Counted:
    """management_backstop, counting the accounts it is asked about (each one paged DescribeBudgetActionsForBudget)."""

    def __init__(self, budgets: Any, mgmt: str) -> None:
        self.read = management_backstop(budgets, mgmt)
        self.asked: list[str] = []

    def __call__(self, account_id: str) -> dict[str, Any] | None:
        self.asked.append(account_id)
        return self.read(account_id)


def _scps(org: Any, account: str) -> set[str]:
    return {
        p["Name"] for p in org.list_policies_for_target(TargetId=account, Filter="SERVICE_CONTROL_POLICY")["Policies"]
    }


def _freeze_findings(report: AuditReport, account: str) -> list[tuple[str, str]]:
    return [
        (f.type, f.detail)
        for f in report.findings
        if f.target == f"account:{account}" and ("vend-freeze" in f.detail or f.type == "backstop_unreadable")
    ]


def _records(store: RequestStore) -> list[RequestRecord]:
    return list(store.list())


def _fire(budgets: Any, layout: Layout, mgmt: str, account: str, tier: str) -> None:
    """Billing data caught up: Budgets executes the action and attaches vend-freeze."""
    billing_caught_up(mgmt, backstop_name(account), layout.monthly_budget("team-mlops", tier) + 1)
    action = backstop_action(budgets, mgmt, account)
    assert action is not None and action["Status"] == "EXECUTION_SUCCESS"


def test_audit_keeps_a_freeze_the_backstop_made_before_the_fence_adopted_it(
    budgets: Any, org: Any, layout: Layout, mgmt: str, vended: str, request_: VendingRequest, store: RequestStore
) -> None:
    # GIVEN Budgets attached vend-freeze and the fence has not run since (no freeze record)
    _fire(budgets, layout, mgmt, vended, request_.gpu_tier)
    assert "vend-freeze" in _scps(org, vended)
    backstop = Counted(budgets, mgmt)
    # WHEN audited with remediation, the backstop configured
    report = audit_organization(
        org, layout, records=_records(store), frozen=frozenset(), backstop_for=backstop, remediate=True
    )
    # THEN no finding about the freeze, a note instead, and the freeze is still attached (the backstop not undone)
    assert _freeze_findings(report, vended) == []
    assert [n for n in report.notes if BACKSTOP_NOTE in n and vended in n], report.notes
    assert report.remediation is not None
    assert not any("vend-freeze" in str(done) for done in report.remediation["executed"]), report.remediation
    assert "vend-freeze" in _scps(org, vended)
    # AND the Budgets reads are bounded: the one account carrying vend-freeze without a record, read once
    assert backstop.asked == [vended]
    # AND once the fence recorded it (the freezes table lists it) the audit reads no backstop at all
    adopted = Counted(budgets, mgmt)
    again = audit_organization(org, layout, records=_records(store), frozen={vended}, backstop_for=adopted)
    assert _freeze_findings(again, vended) == [] and adopted.asked == []
    assert not [n for n in again.notes if BACKSTOP_NOTE in n]


def test_a_freeze_seen_while_budgets_still_executes_its_action_is_kept(
    budgets: Any, org: Any, layout: Layout, mgmt: str, vended: str, request_: VendingRequest, store: RequestStore
) -> None:
    # GIVEN vend-freeze on the account while the action reads EXECUTION_IN_PROGRESS (Budgets attaching it)
    _fire(budgets, layout, mgmt, vended, request_.gpu_tier)
    action = backstop_action(budgets, mgmt, vended)
    assert action is not None

    def in_progress(account_id: str) -> dict[str, Any] | None:
        return {**action, "Status": "EXECUTION_IN_PROGRESS"} if account_id == vended else None

    # WHEN audited with remediation THEN the freeze is noted, not reported, and stays attached
    report = audit_organization(
        org, layout, records=_records(store), frozen=frozenset(), backstop_for=in_progress, remediate=True
    )
    assert _freeze_findings(report, vended) == []
    assert [n for n in report.notes if BACKSTOP_NOTE in n and vended in n], report.notes
    assert "vend-freeze" in _scps(org, vended)
    # AND an action in any other state (here PENDING: waiting for a manual approval) is no reason to keep it
    pending = {**action, "Status": "PENDING"}
    again = audit_organization(
        org,
        layout,
        records=_records(store),
        frozen=frozenset(),
        backstop_for=lambda a: pending if a == vended else None,
    )
    assert _freeze_findings(again, vended) == [("unexpected_attachment", "vend-freeze")]


def test_without_the_backstop_read_the_same_audit_undoes_the_backstop(
    budgets: Any, org: Any, layout: Layout, mgmt: str, vended: str, request_: VendingRequest, store: RequestStore
) -> None:
    # The issue itself (what the audit did before): no backstop read, the executed freeze is a finding and detached.
    _fire(budgets, layout, mgmt, vended, request_.gpu_tier)
    report = audit_organization(org, layout, records=_records(store), frozen=frozenset(), remediate=True)
    assert _freeze_findings(report, vended) == [("unexpected_attachment", "vend-freeze")]
    assert "vend-freeze" not in _scps(org, vended)


def test_a_freeze_planted_with_the_action_in_standby_is_reported_and_detached(
    budgets: Any, org: Any, layout: Layout, mgmt: str, vended: str, store: RequestStore
) -> None:
    # GIVEN vend-freeze attached by hand: the backstop action never fired (STANDBY)
    org.attach_policy(PolicyId=ensure_freeze_policy(org, layout), TargetId=vended)
    action = backstop_action(budgets, mgmt, vended)
    assert action is not None and action["Status"] == "STANDBY"
    backstop = Counted(budgets, mgmt)
    # WHEN audited THEN it is an unexpected attachment, no backstop note
    report = audit_organization(org, layout, records=_records(store), frozen=frozenset(), backstop_for=backstop)
    assert _freeze_findings(report, vended) == [("unexpected_attachment", "vend-freeze")]
    assert not [n for n in report.notes if BACKSTOP_NOTE in n] and backstop.asked == [vended]
    # WHEN remediated THEN it is detached
    audit_organization(org, layout, records=_records(store), frozen=frozenset(), backstop_for=backstop, remediate=True)
    assert "vend-freeze" not in _scps(org, vended)


def test_a_freeze_without_a_backstop_at_all_is_reported(
    org: Any, layout: Layout, budgets: Any, mgmt: str, vended: str, store: RequestStore
) -> None:
    # GIVEN vend-freeze planted on an account whose backstop budget is gone (read: None)
    org.attach_policy(PolicyId=ensure_freeze_policy(org, layout), TargetId=vended)
    budgets.delete_budget(AccountId=mgmt, BudgetName=backstop_name(vended))
    report = audit_organization(
        org, layout, records=_records(store), frozen=frozenset(), backstop_for=management_backstop(budgets, mgmt)
    )
    assert _freeze_findings(report, vended) == [("unexpected_attachment", "vend-freeze")]


def test_an_unreadable_backstop_is_a_finding_and_the_freeze_is_kept(
    budgets: Any, org: Any, layout: Layout, mgmt: str, vended: str, request_: VendingRequest, store: RequestStore
) -> None:
    # GIVEN an executed backstop freeze, and the audit refused the action read
    _fire(budgets, layout, mgmt, vended, request_.gpu_tier)

    def refused(account_id: str) -> dict[str, Any] | None:
        raise ClientError(
            {"Error": {"Code": "AccessDeniedException", "Message": "not authorized"}},
            "DescribeBudgetActionsForBudget",
        )

    report = audit_organization(
        org, layout, records=_records(store), frozen=frozenset(), backstop_for=refused, remediate=True
    )
    # THEN reported as unreadable (not an unexpected attachment), not remediable, and the freeze stays
    found = _freeze_findings(report, vended)
    assert [t for t, _ in found] == ["backstop_unreadable"], found
    assert "AccessDeniedException" in found[0][1]
    assert report.remediation is not None
    assert any("backstop action cannot be read" in u for u in report.remediation["unfixable"])
    assert "vend-freeze" in _scps(org, vended)


def test_the_scheduled_audit_reads_the_backstop_only_where_it_is_configured(
    budgets: Any, layout: Layout, mgmt: str, vended: str, request_: VendingRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vending.context import Context
    from vending.handlers.audit import _backstop

    _fire(budgets, layout, mgmt, vended, request_.gpu_tier)
    # GIVEN no backstop role configured (a deployment without the backstop) THEN the audit reads no Budgets action
    monkeypatch.setenv("VEND_PLATFORM_ACCOUNT_ID", mgmt)
    monkeypatch.setenv("VEND_BACKSTOP_ROLE_ARN", "")
    assert _backstop(Context()) is None
    # GIVEN it configured THEN the audit reads the executed action in the platform (management) account's Budgets
    monkeypatch.setenv("VEND_BACKSTOP_ROLE_ARN", ROLE)
    read = _backstop(Context())
    assert read is not None
    action = read(vended)
    assert action is not None and action["Status"] == "EXECUTION_SUCCESS"
