"""The spend fence's AWS Budgets backstop on the emulator with IAM on (issue 24 item 4): laid down by the
ApplyGuardrails role (twice: one budget, one action), executed by Budgets as its execution role when billing data
crosses the monthly budget (a role that may not attach vend-freeze fails the action: the negative control), adopted
by the SpendFence role (one freeze record, one notification), reversed with an approved thaw, and removed by the
RetireAccount role (the orphan count then finds nothing; planted back, it counts it)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.exceptions import ClientError

from landing_zone.local import orphans, runtime
from landing_zone.local.budget_actions import billing_caught_up
from tests.emulator.test_authorization import Env, _code, new_member
from tests.emulator.test_aws_semantics_defects import _role_with_policy_of, _spec, _without
from tests.organization_pages import all_policies
from vending.budgets import BACKSTOP_ROLE_NAME, backstop_action, backstop_name, remove_backstop
from vending.guardrails.audit import BACKSTOP_NOTE, audit_organization, management_backstop
from vending.layout import cached_layout
from vending.lifecycle import RequestRecord, Status
from vending.settings import Settings
from vending.spend.backstop import converge_backstop
from vending.spend.fence import (
    BACKSTOP_REASON,
    Backstop,
    account_intents,
    adopt_backstop_freezes,
    approve_thaw,
    finish_thaws,
    request_thaw,
)
from vending.spend.freezes import FreezeRecord, FreezeStatus, FreezeStore

pytestmark = [pytest.mark.emulator]
TEAM, TIER, OWNER = "team-mlops", "inference", "mlops-owner@example.com"
T0 = datetime(2026, 12, 10, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    with runtime.Emulator():
        yield Env(runtime.deploy().management_account_id)


@pytest.fixture(scope="module")
def member(env: Env) -> str:
    return str(new_member(env)["id"])


def _tier() -> str:
    layout = cached_layout()
    spec = layout.team(TEAM)
    return spec.gpu_tier if spec is not None else TIER


def _converge(env: Env, session: boto3.Session, account: str) -> list[str]:
    return converge_backstop(
        env.client("budgets", session),
        env.client("organizations", session),
        cached_layout(),
        management_account_id=env.account,
        account_id=account,
        team=TEAM,
        gpu_tier=_tier(),
        owner_email=OWNER,
        execution_role_arn=Settings.from_env().backstop_role_arn,
    )


def _attached(env: Env, account: str) -> bool:
    policies = env.client("organizations").list_policies_for_target(TargetId=account, Filter="SERVICE_CONTROL_POLICY")
    return any(p["Name"] == "vend-freeze" for p in policies["Policies"])


def _status(env: Env, account: str) -> str:
    action = backstop_action(env.client("budgets"), env.account, account)
    assert action is not None
    return str(action["Status"])


def _history(env: Env, account: str) -> list[str]:
    action = backstop_action(env.client("budgets"), env.account, account)
    assert action is not None
    answer = env.client("budgets").describe_budget_action_histories(
        AccountId=env.account, BudgetName=backstop_name(account), ActionId=action["ActionId"]
    )
    return [h["ActionHistoryDetails"]["Message"] for h in answer["ActionHistories"]]


def test_backstop_is_laid_down_once_by_the_apply_guardrails_role(env: Env, member: str) -> None:
    # GIVEN the role the ApplyGuardrails function runs as (its rendered grants, decided by the emulator)
    role = _role_with_policy_of(env, _spec("ApplyGuardrails"))
    assert Settings.from_env().backstop_role_arn.endswith(f":role/{BACKSTOP_ROLE_NAME}")
    # WHEN the backstop is converged twice
    first = _converge(env, role, member)
    second = _converge(env, role, member)
    # THEN one budget (the team's monthly amount, filtered to the account) and one action, nothing the second time
    amount = cached_layout().monthly_budget(TEAM, _tier())
    assert [c.split()[0] for c in first] == ["create_budget", "create_budget_action"], first
    assert second == []
    budgets = env.client("budgets")
    named = [
        b
        for b in budgets.describe_budgets(AccountId=env.account)["Budgets"]
        if b["BudgetName"] == backstop_name(member)
    ]
    assert len(named) == 1 and float(named[0]["BudgetLimit"]["Amount"]) == amount
    assert named[0]["CostFilters"] == {"LinkedAccount": [member]}
    actions = budgets.describe_budget_actions_for_budget(AccountId=env.account, BudgetName=backstop_name(member))
    assert len(actions["Actions"]) == 1
    action = actions["Actions"][0]
    assert (action["ActionType"], action["ApprovalModel"], action["Status"]) == (
        "APPLY_SCP_POLICY",
        "AUTOMATIC",
        "STANDBY",
    )
    assert action["Definition"]["ScpActionDefinition"]["TargetIds"] == [member]
    # AND a tier change's amount is re-converged (the action stays)
    moved = converge_backstop_amount(env, role, member, amount * 10)
    assert moved == [
        f"update_budget {backstop_name(member)} {named[0]['BudgetLimit']['Amount']} -> {amount * 10:g} USD"
    ]
    converge_backstop_amount(env, role, member, amount)


def converge_backstop_amount(env: Env, session: boto3.Session, account: str, amount: float) -> list[str]:
    from vending.budgets import ensure_backstop

    action = backstop_action(env.client("budgets"), env.account, account)
    assert action is not None
    return ensure_backstop(
        env.client("budgets", session),
        management_account_id=env.account,
        account_id=account,
        amount=amount,
        policy_id=action["Definition"]["ScpActionDefinition"]["PolicyId"],
        execution_role_arn=action["ExecutionRoleArn"],
        notify_email=OWNER,
    )


def test_backstop_needs_pass_role_on_its_execution_role(env: Env) -> None:
    # GIVEN the ApplyGuardrails role without iam:PassRole (the negative control of the grant)
    other = str(new_member(env)["id"])
    crippled = _role_with_policy_of(env, _without(_spec("ApplyGuardrails"), "iam:PassRole"))
    # WHEN it lays the backstop down THEN the action is refused naming iam:PassRole (the budget was made before it)
    with pytest.raises(ClientError) as denied:
        _converge(env, crippled, other)
    assert _code(denied.value) == "AccessDeniedException"
    assert "iam:PassRole" in str(denied.value) and BACKSTOP_ROLE_NAME in str(denied.value)
    print("\nnegative control (ApplyGuardrails without iam:PassRole):", denied.value)
    assert backstop_action(env.client("budgets"), env.account, other) is None
    # and the real role completes it
    assert [c.split()[0] for c in _converge(env, _role_with_policy_of(env, _spec("ApplyGuardrails")), other)] == [
        "create_budget_action"
    ]


def _records(member: str) -> list[RequestRecord]:
    request = {
        "team": TEAM,
        "stage": "staging",
        "gpu_tier": _tier(),
        "owner_email": OWNER,
        "cost_center": "CC-1234",
        "regions": ["us-east-1"],
    }
    return [
        RequestRecord.model_validate(
            {
                "request_id": f"{TEAM}-staging",
                "team": TEAM,
                "stage": "staging",
                "status": Status.READY,
                "request": request,
                "account_id": member,
            }
        )
    ]


def test_billing_crossing_freezes_as_the_execution_role_the_fence_adopts_and_a_thaw_reverses(
    env: Env, member: str
) -> None:
    layout, settings = cached_layout(), Settings.from_env()
    amount = layout.monthly_budget(TEAM, _tier())
    name = backstop_name(member)
    assert _status(env, member) == "STANDBY" and not _attached(env, member)
    # GIVEN the execution role stripped of organizations:AttachPolicy (negative control)
    iam = env.client("iam")
    real = iam.get_role_policy(RoleName=BACKSTOP_ROLE_NAME, PolicyName="attach-vend-freeze")["PolicyDocument"]
    stripped = {
        "Version": "2012-10-17",
        "Statement": [{**real["Statement"][0], "Action": ["organizations:DetachPolicy"]}],
    }
    iam.put_role_policy(
        RoleName=BACKSTOP_ROLE_NAME, PolicyName="attach-vend-freeze", PolicyDocument=json.dumps(stripped)
    )
    try:
        # WHEN billing data crosses the budget THEN the action fails, with AWS's denial, and nothing is attached
        assert [a["Status"] for a in billing_caught_up(env.account, name, amount * 1.2)] == ["EXECUTION_FAILURE"]
        assert "organizations:AttachPolicy" in _history(env, member)[-1], _history(env, member)
        print(
            "\nnegative control (execution role without AttachPolicy):", _status(env, member), _history(env, member)[-1]
        )
        assert not _attached(env, member)
    finally:
        iam.put_role_policy(
            RoleName=BACKSTOP_ROLE_NAME, PolicyName="attach-vend-freeze", PolicyDocument=json.dumps(real)
        )
    # WHEN the real role's action is retried (RETRY_BUDGET_ACTION, as an operator would) THEN vend-freeze is attached
    budgets = env.client("budgets")
    action_id = backstop_action(budgets, env.account, member)["ActionId"]  # type: ignore[index]
    budgets.execute_budget_action(
        AccountId=env.account, BudgetName=name, ActionId=action_id, ExecutionType="RETRY_BUDGET_ACTION"
    )
    assert _status(env, member) == "EXECUTION_SUCCESS" and _attached(env, member)

    # AND before the fence's next interval (no freeze record yet) the audit, as the Audit role, keeps the freeze: a
    # note, no finding, nothing to detach (remediating would have undone the backstop)
    audit = _role_with_policy_of(env, _spec("Audit"))
    found, notes = _audit_as(env, audit, _records(member), member)
    assert found == [] and [n for n in notes if BACKSTOP_NOTE in n and member in n], (found, notes)
    # negative control: the Audit role without the action read cannot tell, so it reports (and keeps) the freeze
    blind = _role_with_policy_of(env, _without(_spec("Audit"), "budgets:DescribeBudgetActionsForBudget"))
    refused, _ = _audit_as(env, blind, _records(member), member)
    assert [f.split(":")[0] for f in refused] == ["backstop_unreadable"] and "AccessDenied" in refused[0], refused
    print("\nnegative control (Audit role without DescribeBudgetActionsForBudget):", refused)
    assert _attached(env, member)

    # WHEN the fence's interval runs as the SpendFence role THEN it adopts the freeze once, notifying once
    fence_role = _role_with_policy_of(env, _spec("SpendFence"))
    freezes = FreezeStore(env.client("dynamodb", fence_role), settings.freezes_table)
    backstop = Backstop(env.client("budgets", fence_role), env.account)
    sent: list[tuple[str, FreezeRecord]] = []
    records = _records(member)

    def adopt(at: datetime) -> list[str]:
        return adopt_backstop_freezes(
            records,
            layout,
            env.client("organizations", fence_role),
            freezes,
            backstop,
            intents=account_intents(layout, records),
            notify=lambda kind, rec: sent.append((kind, rec)),
            now=at,
        )

    assert adopt(T0) == [member]
    assert adopt(T0 + timedelta(minutes=5)) == []
    record = freezes.get(member)
    assert record is not None and record.status == FreezeStatus.FROZEN
    assert (record.cap, record.reason, record.cap_usd) == ("monthly", BACKSTOP_REASON, amount)
    assert record.reading_usd == pytest.approx(amount * 1.2) and record.complete
    assert [kind for kind, _ in sent] == ["Team Spend Frozen"]
    # AND the audit expects vend-freeze on the account now (not planted); without the record it would report it
    frozen = FreezeStore(env.client("dynamodb"), settings.freezes_table).frozen_accounts()
    assert member in frozen
    assert _freeze_findings(env, records, frozen, member) == []
    planted = _freeze_findings(env, records, frozenset(), member)
    assert planted, "control: the audit reports a vend-freeze no freeze record stands for"
    print("\nnegative control (audit without the adopted record):", planted)

    # WHEN a thaw is filed and approved by another principal, and the next interval runs as the SpendFence role
    admin_freezes = FreezeStore(env.client("dynamodb"), settings.freezes_table)
    request_thaw(
        admin_freezes, member, by=f"arn:aws:iam::{env.account}:role/PlatformAdmin", session=None, reason="fixed", now=T0
    )
    approve_thaw(
        admin_freezes,
        None,
        layout,
        member,
        by=f"arn:aws:iam::{env.account}:role/PlatformApprover",
        session=None,
        now=T0,
    )
    done = finish_thaws(
        freezes, env.client("organizations", fence_role), layout, notify=None, now=T0, backstop=backstop
    )
    # THEN the action is reversed (as the execution role) and vend-freeze is off; billing does not re-freeze this period
    assert done == [member]
    assert _status(env, member) == "REVERSE_SUCCESS" and not _attached(env, member)
    billing_caught_up(env.account, name, amount * 1.5)
    assert not _attached(env, member)
    assert adopt(T0 + timedelta(minutes=10)) == []


def _audit_as(env: Env, role: boto3.Session, records: list[RequestRecord], account: str) -> tuple[list[str], list[str]]:
    """The audit as `role` (organizations and the management account's Budgets), no freeze record read."""
    report = audit_organization(
        env.client("organizations", role),
        cached_layout(),
        records=records,
        frozen=frozenset(),
        backstop_for=management_backstop(env.client("budgets", role), env.account),
    )
    found = [
        f"{f.type}: {f.detail}"
        for f in report.findings
        if f.target == f"account:{account}" and ("vend-freeze" in f.detail or f.type == "backstop_unreadable")
    ]
    return found, report.notes


def _freeze_findings(env: Env, records: list[RequestRecord], frozen: frozenset[str], account: str) -> list[str]:
    from vending.guardrails.audit import audit_organization

    report = audit_organization(env.client("organizations"), cached_layout(), records=records, frozen=frozen)
    return [
        f"{f.type}: {f.detail}"
        for f in report.findings
        if f.target == f"account:{account}" and "vend-freeze" in f.detail
    ]


def test_execution_role_attaches_nothing_but_vend_freeze(env: Env) -> None:
    # GIVEN an action naming another SCP (the team's tier policy: what a widened role could detach or attach)
    account = str(new_member(env)["id"])
    _converge(env, _role_with_policy_of(env, _spec("ApplyGuardrails")), account)
    org, budgets, name = env.client("organizations"), env.client("budgets"), backstop_name(account)
    other = next(
        p["Id"]
        for p in all_policies(org, "SERVICE_CONTROL_POLICY")
        if p["Name"] != "vend-freeze" and not p.get("AwsManaged")
    )
    action = backstop_action(budgets, env.account, account)
    assert action is not None
    budgets.update_budget_action(
        AccountId=env.account,
        BudgetName=name,
        ActionId=action["ActionId"],
        Definition={"ScpActionDefinition": {"PolicyId": other, "TargetIds": [account]}},
    )
    # WHEN billing crosses THEN the execution role may not attach it: EXECUTION_FAILURE, nothing attached
    assert [a["Status"] for a in billing_caught_up(env.account, name, 10**6)] == ["EXECUTION_FAILURE"]
    assert "organizations:AttachPolicy" in _history(env, account)[-1]
    policies = org.list_policies_for_target(TargetId=account, Filter="SERVICE_CONTROL_POLICY")["Policies"]
    assert other not in {p["Id"] for p in policies}
    remove_backstop(budgets, management_account_id=env.account, account_id=account)


def test_retirement_removes_the_backstop_and_the_orphan_count_sees_one_left(env: Env) -> None:
    account = str(new_member(env)["id"])
    _converge(env, _role_with_policy_of(env, _spec("ApplyGuardrails")), account)
    budgets = env.client("budgets")
    # GIVEN a backstop whose account no READY record owns THEN the orphan count names it, with its action
    assert f"{backstop_name(account)} (1 action)" in orphans.orphan_backstops(budgets, env.account, set())
    # WHEN the RetireAccount role removes it (twice: the second finds nothing to do)
    retire = _role_with_policy_of(env, _spec("RetireAccount"))
    removed = remove_backstop(env.client("budgets", retire), management_account_id=env.account, account_id=account)
    again = remove_backstop(env.client("budgets", retire), management_account_id=env.account, account_id=account)
    # THEN the action and the budget are gone and nothing is counted
    assert removed == [f"delete_budget_action {backstop_name(account)}", f"delete_budget {backstop_name(account)}"]
    assert again == []
    assert not any(o.startswith(backstop_name(account)) for o in orphans.orphan_backstops(budgets, env.account, set()))
    # and without the Budgets grant (negative control) the RetireAccount role could not have removed it
    _converge(env, _role_with_policy_of(env, _spec("ApplyGuardrails")), account)
    crippled = _role_with_policy_of(env, _without(_spec("RetireAccount"), "budgets:DeleteBudgetAction"))
    with pytest.raises(ClientError) as denied:
        remove_backstop(env.client("budgets", crippled), management_account_id=env.account, account_id=account)
    assert "budgets:DeleteBudgetAction" in str(denied.value)
    print("\nnegative control (RetireAccount without DeleteBudgetAction):", denied.value)
    remove_backstop(env.client("budgets", retire), management_account_id=env.account, account_id=account)
    assert os.environ.get("VEND_BACKSTOP_ROLE_ARN")
