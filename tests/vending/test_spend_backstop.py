"""The spend fence's Budgets backstop on moto with the emulator's budget actions (vending.budgets, vending.spend):
laid down idempotently, re-converged on a tier change, adopted by the fence's interval once the action executed
(never when vend-freeze was planted by hand), reversed with an approved thaw, removed at retirement."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from landing_zone.local.budget_actions import billing_caught_up, emulated_budget_actions
from tests.vending.conftest import OUTCOME_SOURCE, REGION
from vending.budgets import backstop_action, backstop_name, ensure_backstop, remove_backstop
from vending.guardrails.account import apply_account_guardrails
from vending.layout import Layout
from vending.lifecycle import RequestStore, Status
from vending.request import VendingRequest
from vending.spend.backstop import converge_backstop
from vending.spend.fence import (
    BACKSTOP_REASON,
    FROZEN_EVENT,
    Backstop,
    approve_thaw,
    ensure_freeze_policy,
    request_thaw,
)
from vending.spend.freezes import FreezeStatus, FreezeStore, freezes_table_definition
from vending.spend.interval import run_interval
from vending.spend.reading import SpendReading

FREEZES = "vending-freezes"
T0 = datetime(2026, 12, 3, 14, 0, tzinfo=UTC)
ROLE = "arn:aws:iam::123456789012:role/VendingBudgetsFreezeRole"


@pytest.fixture
def budgets(aws: None) -> Iterator[Any]:
    from landing_zone.local.lifecycle import install_update_budget

    install_update_budget()  # moto lacks UpdateBudget too (the emulator's patch; it stays for the process)
    with emulated_budget_actions():
        yield boto3.client("budgets", region_name="us-east-1")


@pytest.fixture
def mgmt(aws: None) -> str:
    return str(boto3.client("sts", region_name=REGION).get_caller_identity()["Account"])


@pytest.fixture
def vended(org: Any, layout: Layout, store: RequestStore, request_: VendingRequest) -> str:
    """team-mlops staging READY with its account, guardrails on, and an execution role Budgets may assume."""
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
    return account


def _converge(budgets: Any, org: Any, layout: Layout, mgmt: str, account: str, tier: str) -> list[str]:
    return converge_backstop(
        budgets,
        org,
        layout,
        management_account_id=mgmt,
        account_id=account,
        team="team-mlops",
        gpu_tier=tier,
        owner_email="owner@example.com",
        execution_role_arn=ROLE,
    )


def _scps(org: Any, account: str) -> set[str]:
    return {
        p["Name"] for p in org.list_policies_for_target(TargetId=account, Filter="SERVICE_CONTROL_POLICY")["Policies"]
    }


def test_backstop_twice_is_one_budget_and_one_action(
    budgets: Any, org: Any, layout: Layout, mgmt: str, vended: str, request_: VendingRequest
) -> None:
    # WHEN the backstop is converged twice
    first = _converge(budgets, org, layout, mgmt, vended, request_.gpu_tier)
    second = _converge(budgets, org, layout, mgmt, vended, request_.gpu_tier)
    # THEN one budget and one action, and the second pass changed nothing
    assert [c.split()[0] for c in first] == ["create_budget", "create_budget_action"] and second == []
    names = [b["BudgetName"] for b in budgets.describe_budgets(AccountId=mgmt)["Budgets"]]
    assert names.count(backstop_name(vended)) == 1
    assert len(budgets.describe_budget_actions_for_account(AccountId=mgmt)["Actions"]) == 1
    action = backstop_action(budgets, mgmt, vended)
    assert action is not None
    assert action["Definition"]["ScpActionDefinition"] == {
        "PolicyId": ensure_freeze_policy(org, layout),
        "TargetIds": [vended],
    }


def test_backstop_follows_the_tier_and_a_drifted_action_is_put_back(
    budgets: Any, org: Any, layout: Layout, mgmt: str, vended: str, request_: VendingRequest
) -> None:
    _converge(budgets, org, layout, mgmt, vended, request_.gpu_tier)
    amount = layout.monthly_budget("team-mlops", request_.gpu_tier) * 2  # what a tier upgrade moves it to
    # GIVEN the amount moved (a tier change) and the action's threshold changed by hand
    action = backstop_action(budgets, mgmt, vended)
    assert action is not None
    budgets.update_budget_action(
        AccountId=mgmt,
        BudgetName=backstop_name(vended),
        ActionId=action["ActionId"],
        ActionThreshold={"ActionThresholdValue": 500.0, "ActionThresholdType": "PERCENTAGE"},
    )
    # WHEN converged again THEN the amount follows and the threshold is put back, the action kept
    changes = ensure_backstop(
        budgets,
        management_account_id=mgmt,
        account_id=vended,
        amount=amount,
        policy_id=action["Definition"]["ScpActionDefinition"]["PolicyId"],
        execution_role_arn=ROLE,
        notify_email="owner@example.com",
    )
    assert [c.split()[0] for c in changes] == ["update_budget", "update_budget_action"], changes
    read = budgets.describe_budget(AccountId=mgmt, BudgetName=backstop_name(vended))["Budget"]
    assert float(read["BudgetLimit"]["Amount"]) == amount
    kept = backstop_action(budgets, mgmt, vended)
    assert kept is not None and kept["ActionId"] == action["ActionId"]
    assert kept["ActionThreshold"]["ActionThresholdValue"] == 100.0


def test_backstop_is_left_out_without_an_execution_role(
    budgets: Any, org: Any, layout: Layout, mgmt: str, vended: str, request_: VendingRequest
) -> None:
    # GIVEN a deployment without the backstop's role WHEN converged THEN nothing is made (and that is said in the log)
    made = converge_backstop(
        budgets,
        org,
        layout,
        management_account_id=mgmt,
        account_id=vended,
        team="team-mlops",
        gpu_tier=request_.gpu_tier,
        owner_email="owner@example.com",
        execution_role_arn="",
    )
    assert made == [] and backstop_action(budgets, mgmt, vended) is None


def _interval(
    store: RequestStore, freezes: FreezeStore, layout: Layout, org: Any, budgets: Any, mgmt: str, at: datetime
) -> Any:
    def under_caps(records: list[Any], when: datetime) -> list[SpendReading]:
        # The fence's own meter sees nothing over the hourly/daily caps: only billing data shows the runaway.
        return [SpendReading(r.team, r.stage, r.account_id, r.request_id, when, 1.0, 1.0, {}) for r in records]

    return run_interval(
        read=under_caps,
        store=store,
        freezes=freezes,
        layout=layout,
        org=org,
        events=boto3.client("events", region_name=REGION),
        sts=boto3.client("sts", region_name=REGION),
        bus="default",
        source=OUTCOME_SOURCE,
        now=at,
        run_id=f"interval-{at:%H%M}",
        backstop=Backstop(budgets, mgmt),
    )


def test_fence_adopts_an_executed_backstop_freeze_once_and_a_thaw_reverses_it(
    budgets: Any,
    org: Any,
    layout: Layout,
    mgmt: str,
    vended: str,
    request_: VendingRequest,
    store: RequestStore,
    ddb: Any,
    published: Any,
) -> None:
    ddb.create_table(**freezes_table_definition(FREEZES))
    freezes = FreezeStore(ddb, FREEZES)
    _converge(budgets, org, layout, mgmt, vended, request_.gpu_tier)
    amount = layout.monthly_budget("team-mlops", request_.gpu_tier)
    # GIVEN billing data caught up: Budgets attached vend-freeze (the fence's meter never crossed a cap)
    billing_caught_up(mgmt, backstop_name(vended), amount + 1)
    assert "vend-freeze" in _scps(org, vended) and freezes.get(vended) is None
    # WHEN the next two intervals run
    first = _interval(store, freezes, layout, org, budgets, mgmt, T0)
    second = _interval(store, freezes, layout, org, budgets, mgmt, T0 + timedelta(minutes=5))
    # THEN the first records the freeze with the backstop's reason and notifies; the second finds it complete
    assert (first.adopted, first.frozen) == ([vended], []) and second.adopted == []
    record = freezes.get(vended)
    assert record is not None and record.status == FreezeStatus.FROZEN and record.complete
    assert (record.cap, record.reason, record.cap_usd) == ("monthly", BACKSTOP_REASON, amount)
    assert [e["detail"]["account_id"] for e in published() if e["detail-type"] == FROZEN_EVENT] == [vended]
    # WHEN a thaw is filed and approved by another principal THEN the next interval reverses the action and detaches
    request_thaw(freezes, vended, by="arn:aws:iam::1:role/PlatformAdmin", session=None, reason="fixed", now=T0)
    approve_thaw(freezes, None, layout, vended, by="arn:aws:iam::1:role/PlatformApprover", session=None, now=T0)
    third = _interval(store, freezes, layout, org, budgets, mgmt, T0 + timedelta(minutes=10))
    assert third.thawed == [vended] and third.adopted == []
    assert "vend-freeze" not in _scps(org, vended)
    action = backstop_action(budgets, mgmt, vended)
    assert action is not None and action["Status"] == "REVERSE_SUCCESS"


def test_fence_does_not_adopt_a_freeze_no_backstop_action_made(
    budgets: Any,
    org: Any,
    layout: Layout,
    mgmt: str,
    vended: str,
    request_: VendingRequest,
    store: RequestStore,
    ddb: Any,
) -> None:
    ddb.create_table(**freezes_table_definition(FREEZES))
    freezes = FreezeStore(ddb, FREEZES)
    _converge(budgets, org, layout, mgmt, vended, request_.gpu_tier)
    # GIVEN vend-freeze attached by hand (the action still STANDBY): planted, the audit's to report
    org.attach_policy(PolicyId=ensure_freeze_policy(org, layout), TargetId=vended)
    # WHEN an interval runs THEN nothing is adopted
    report = _interval(store, freezes, layout, org, budgets, mgmt, T0)
    assert report.adopted == [] and freezes.get(vended) is None


def test_retirement_removes_the_backstop_and_twice_is_a_no_op(
    budgets: Any, org: Any, layout: Layout, mgmt: str, vended: str, request_: VendingRequest
) -> None:
    from landing_zone.local.orphans import orphan_backstops

    _converge(budgets, org, layout, mgmt, vended, request_.gpu_tier)
    # GIVEN the account retired: its backstop is an orphan until removed (the count's control)
    assert orphan_backstops(budgets, mgmt, set()) == [f"{backstop_name(vended)} (1 action)"]
    assert orphan_backstops(budgets, mgmt, {vended}) == []
    # WHEN removed twice THEN the action and the budget go, then nothing is left to do
    assert remove_backstop(budgets, management_account_id=mgmt, account_id=vended) == [
        f"delete_budget_action {backstop_name(vended)}",
        f"delete_budget {backstop_name(vended)}",
    ]
    assert remove_backstop(budgets, management_account_id=mgmt, account_id=vended) == []
    assert orphan_backstops(budgets, mgmt, set()) == []
    assert budgets.describe_budget_actions_for_account(AccountId=mgmt)["Actions"] == []
