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
