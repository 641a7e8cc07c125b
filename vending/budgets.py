"""Spend fences: one monthly AWS Budget per vended account, alerting the owner at 80 % actual and 100 % forecast.

Created (and converged) by the bootstrap step in the member account, checked by the audit. The amount comes from the
layout (per GPU tier, overridable per team: Layout.monthly_budget).
https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_budgets_CreateBudget.html
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from vending.aws.errors import error_code

BUDGET_NAME = "vend-monthly-spend"


@dataclass(frozen=True)
class Alert:
    threshold: float  # percent of the budgeted amount
    kind: str  # ACTUAL or FORECASTED

    def notification(self) -> dict[str, Any]:
        return {
            "NotificationType": self.kind,
            "ComparisonOperator": "GREATER_THAN",
            "Threshold": self.threshold,
            "ThresholdType": "PERCENTAGE",
        }


ALERTS = (Alert(80.0, "ACTUAL"), Alert(100.0, "FORECASTED"))


def _amount(value: float) -> str:
    return format(Decimal(str(value)).normalize(), "f")


def budget_document(amount: float, name: str = BUDGET_NAME) -> dict[str, Any]:
    return {
        "BudgetName": name,
        "BudgetLimit": {"Amount": _amount(amount), "Unit": "USD"},
        "TimeUnit": "MONTHLY",
        "BudgetType": "COST",
    }


def _key(notification: dict[str, Any]) -> tuple[str, float]:
    return str(notification["NotificationType"]), float(notification["Threshold"])


def _notifications(budgets: Any, account_id: str, name: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"AccountId": account_id, "BudgetName": name}
    while True:
        page = budgets.describe_notifications_for_budget(**kwargs)
        found += page.get("Notifications", [])
        if not page.get("NextToken"):
            return found
        kwargs["NextToken"] = page["NextToken"]


def ensure_budget(
    budgets: Any, account_id: str, *, amount: float, owner_email: str, name: str = BUDGET_NAME
) -> list[str]:
    """Create the budget with its alerts, or converge an existing one (amount, missing alerts). Returns what changed;
    calling it again changes nothing. `budgets` is a client in (or for) the member account."""
    subscriber = [{"SubscriptionType": "EMAIL", "Address": owner_email}]
    changes: list[str] = []
    try:
        current = budgets.describe_budget(AccountId=account_id, BudgetName=name)["Budget"]
    except ClientError as e:
        if error_code(e) != "NotFoundException":
            raise
        current = None
    if current is None:
        try:
            budgets.create_budget(
                AccountId=account_id,
                Budget=budget_document(amount, name),
                NotificationsWithSubscribers=[
                    {"Notification": a.notification(), "Subscribers": subscriber} for a in ALERTS
                ],
            )
            return [f"create_budget {name} {_amount(amount)} USD"]
        except ClientError as e:
            # Another caller created it between our read and our write: converge that one instead.
            if error_code(e) != "DuplicateRecordException":
                raise
            current = budgets.describe_budget(AccountId=account_id, BudgetName=name)["Budget"]
    if Decimal(str(current["BudgetLimit"]["Amount"])) != Decimal(str(amount)):
        budgets.update_budget(AccountId=account_id, NewBudget=budget_document(amount, name))
        changes.append(f"update_budget {name} {current['BudgetLimit']['Amount']} -> {_amount(amount)} USD")
    have = {_key(n) for n in _notifications(budgets, account_id, name)}
    for alert in ALERTS:
        if (alert.kind, alert.threshold) in have:
            continue
        try:
            budgets.create_notification(
                AccountId=account_id, BudgetName=name, Notification=alert.notification(), Subscribers=subscriber
            )
            changes.append(f"create_notification {alert.kind} {alert.threshold:g}%")
        except ClientError as e:
            if error_code(e) != "DuplicateRecordException":
                raise
    return changes


def check_budget(budgets: Any, account_id: str, *, amount: float, name: str = BUDGET_NAME) -> list[str]:
    """What the audit reports for one account: an empty list when the spend fence is as intended."""
    try:
        current = budgets.describe_budget(AccountId=account_id, BudgetName=name)["Budget"]
    except ClientError as e:
        if error_code(e) == "NotFoundException":
            return [f"{account_id}: no budget {name}"]
        raise
    problems = []
    if Decimal(str(current["BudgetLimit"]["Amount"])) != Decimal(str(amount)):
        problems.append(
            f"{account_id}: budget {name} is {current['BudgetLimit']['Amount']} USD, intended {_amount(amount)} USD"
        )
    if current.get("TimeUnit") != "MONTHLY":
        problems.append(f"{account_id}: budget {name} is {current.get('TimeUnit')}, intended MONTHLY")
    have = {_key(n) for n in _notifications(budgets, account_id, name)}
    problems += [
        f"{account_id}: budget {name} lacks the {a.kind} {a.threshold:g}% alert"
        for a in ALERTS
        if (a.kind, a.threshold) not in have
    ]
    return problems


# --- the backstop: a Budgets action that applies the freeze SCP when billing data catches up (issue 24) ---------
# SCP actions act on Organizations, so they exist only in the management account's Budgets: the backstop is a budget
# there filtered to the member account, with an APPLY_SCP_POLICY action naming `vend-freeze` and the account.
# https://docs.aws.amazon.com/cost-management/latest/userguide/budgets-controls.html
# moto 5.2 has no budget actions: the emulator adds them (landing_zone/local/budget_actions.py), and executes an action
# as its execution role when `billing_caught_up` moves the budget's actual spend over the threshold.
BACKSTOP_PREFIX = "vend-backstop-"
# The role Budgets assumes to attach and detach vend-freeze: in the management account, trusted by
# budgets.amazonaws.com for this account only (landing_zone.grant_statements.backstop_role_statements).
BACKSTOP_ROLE_NAME = "VendingBudgetsFreezeRole"
SCP_ACTION = "APPLY_SCP_POLICY"


def backstop_budget_document(account_id: str, amount: float) -> dict[str, Any]:
    """The management account's monthly budget of one member account (its linked-account cost)."""
    return {
        **budget_document(amount, f"{BACKSTOP_PREFIX}{account_id}"),
        "CostFilters": {"LinkedAccount": [account_id]},
    }


def freeze_budget_action(
    *,
    management_account_id: str,
    account_id: str,
    policy_id: str,
    execution_role_arn: str,
    notify_email: str,
    threshold_percent: float = 100.0,
) -> dict[str, Any]:
    """CreateBudgetAction arguments: at `threshold_percent` of the backstop budget's ACTUAL spend, Budgets attaches the
    freeze SCP (`policy_id`, vend-freeze) to the member account, automatically (no approval: it is the backstop for a
    fence that missed). A thaw detaches it the same way (vending.spend.fence.approve_thaw)."""
    return {
        "AccountId": management_account_id,
        "BudgetName": f"{BACKSTOP_PREFIX}{account_id}",
        "NotificationType": "ACTUAL",
        "ActionType": "APPLY_SCP_POLICY",
        "ActionThreshold": {"ActionThresholdValue": threshold_percent, "ActionThresholdType": "PERCENTAGE"},
        "Definition": {"ScpActionDefinition": {"PolicyId": policy_id, "TargetIds": [account_id]}},
        "ExecutionRoleArn": execution_role_arn,
        "ApprovalModel": "AUTOMATIC",
        "Subscribers": [{"SubscriptionType": "EMAIL", "Address": notify_email}],
    }


def backstop_name(account_id: str) -> str:
    return f"{BACKSTOP_PREFIX}{account_id}"


def backstop_action(budgets: Any, management_account_id: str, account_id: str) -> dict[str, Any] | None:
    """The backstop budget's APPLY_SCP_POLICY action on the account (its status says whether Budgets fired it); None
    when the budget or the action does not exist."""
    kwargs: dict[str, Any] = {"AccountId": management_account_id, "BudgetName": backstop_name(account_id)}
    try:
        while True:
            page = budgets.describe_budget_actions_for_budget(**kwargs)
            for action in page.get("Actions", []):
                scp = action.get("Definition", {}).get("ScpActionDefinition") or {}
                if action.get("ActionType") == SCP_ACTION and account_id in scp.get("TargetIds", []):
                    return dict(action)
            if not page.get("NextToken"):
                return None
            kwargs["NextToken"] = page["NextToken"]
    except ClientError as e:
        if error_code(e) != "NotFoundException":
            raise
        return None


def ensure_backstop(
    budgets: Any,
    *,
    management_account_id: str,
    account_id: str,
    amount: float,
    policy_id: str,
    execution_role_arn: str,
    notify_email: str,
) -> list[str]:
    """Create or converge the backstop of one member account in the management account's Budgets: the budget of its
    linked-account cost (amount = its monthly budget) and the APPLY_SCP_POLICY action attaching `policy_id`
    (vend-freeze) at 100 % actual. Returns what changed; calling it again changes nothing."""
    name = backstop_name(account_id)
    wanted = backstop_budget_document(account_id, amount)
    changes: list[str] = []
    try:
        current = budgets.describe_budget(AccountId=management_account_id, BudgetName=name)["Budget"]
    except ClientError as e:
        if error_code(e) != "NotFoundException":
            raise
        current = None
    if current is None:
        try:
            budgets.create_budget(AccountId=management_account_id, Budget=wanted)
            changes.append(f"create_budget {name} {_amount(amount)} USD")
        except ClientError as e:
            if error_code(e) != "DuplicateRecordException":  # a concurrent converger made it: converge that one
                raise
            current = budgets.describe_budget(AccountId=management_account_id, BudgetName=name)["Budget"]
    if current is not None and Decimal(str(current["BudgetLimit"]["Amount"])) != Decimal(str(amount)):
        budgets.update_budget(AccountId=management_account_id, NewBudget=wanted)
        changes.append(f"update_budget {name} {current['BudgetLimit']['Amount']} -> {_amount(amount)} USD")
    action = freeze_budget_action(
        management_account_id=management_account_id,
        account_id=account_id,
        policy_id=policy_id,
        execution_role_arn=execution_role_arn,
        notify_email=notify_email,
    )
    found = backstop_action(budgets, management_account_id, account_id)
    if found is None:
        try:
            budgets.create_budget_action(**action)
            changes.append(f"create_budget_action {name} {SCP_ACTION} {policy_id}")
        except ClientError as e:
            if error_code(e) != "DuplicateRecordException":
                raise
        return changes
    drift = {
        k: action[k]
        for k in ("ActionThreshold", "Definition", "ExecutionRoleArn", "ApprovalModel", "NotificationType")
        if found.get(k) != action[k]
    }
    if drift:
        budgets.update_budget_action(
            AccountId=management_account_id, BudgetName=name, ActionId=found["ActionId"], **drift
        )
        changes.append(f"update_budget_action {name} {', '.join(sorted(drift))}")
    return changes


def remove_backstop(budgets: Any, *, management_account_id: str, account_id: str) -> list[str]:
    """Delete the backstop action and budget of a retired account (each missing one is already done)."""
    name, removed = backstop_name(account_id), []
    action = backstop_action(budgets, management_account_id, account_id)
    if action is not None:
        try:
            budgets.delete_budget_action(AccountId=management_account_id, BudgetName=name, ActionId=action["ActionId"])
            removed.append(f"delete_budget_action {name}")
        except ClientError as e:
            if error_code(e) != "NotFoundException":
                raise
    try:
        budgets.delete_budget(AccountId=management_account_id, BudgetName=name)
        removed.append(f"delete_budget {name}")
    except ClientError as e:
        if error_code(e) != "NotFoundException":
            raise
    return removed
