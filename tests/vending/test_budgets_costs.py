"""vending.budgets on moto's Budgets (plus Stubber where moto lacks UpdateBudget), vending.costs against recorded
Cost Explorer responses (tests/events/ce_*.json: moto has no GetCostAndUsage grouping nor cost-allocation tags)."""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from vending.budgets import ALERTS, BUDGET_NAME, check_budget, ensure_budget
from vending.cli import main
from vending.costs import activate_cost_allocation_tags, bar_chart, month_range, spend_by_team_and_stage
from vending.exceptions import InvalidRequest
from vending.layout import Layout

EVENTS = Path(__file__).resolve().parent.parent / "events"
ACCOUNT = "111122223333"


def _recorded(name: str) -> dict[str, Any]:
    return copy.deepcopy(json.loads((EVENTS / f"{name}.json").read_text(encoding="utf-8")))


def test_layout_budget_per_tier_with_team_override(layout: Layout) -> None:
    assert layout.monthly_budget("team-frontend", "none") == 500
    assert layout.monthly_budget("team-backend", "inference") == 5000
    assert layout.monthly_budget("team-mlops", "training") == 40000  # the team's override beats the tier's 25000


def test_account_email_generation_suffix(layout: Layout) -> None:
    assert layout.account_email("team-frontend", "staging") == "aws+team-frontend-staging@example.com"
    assert layout.account_email("team-frontend", "staging", 2) == "aws+team-frontend-staging.r2@example.com"


def test_ensure_budget_creates_with_alerts_and_is_idempotent(aws: None) -> None:
    budgets = boto3.client("budgets", region_name="us-east-1")
    # WHEN the budget is ensured twice
    first = ensure_budget(budgets, ACCOUNT, amount=500, owner_email="owner@example.com")
    second = ensure_budget(budgets, ACCOUNT, amount=500, owner_email="owner@example.com")
    # THEN it is created once, monthly, with 80 % actual and 100 % forecast alerts to the owner
    assert first == ["create_budget vend-monthly-spend 500 USD"] and second == []
    budget = budgets.describe_budget(AccountId=ACCOUNT, BudgetName=BUDGET_NAME)["Budget"]
    assert budget["TimeUnit"] == "MONTHLY" and float(budget["BudgetLimit"]["Amount"]) == 500
    notes = budgets.describe_notifications_for_budget(AccountId=ACCOUNT, BudgetName=BUDGET_NAME)["Notifications"]
    assert {(n["NotificationType"], n["Threshold"]) for n in notes} == {("ACTUAL", 80.0), ("FORECASTED", 100.0)}
    assert check_budget(budgets, ACCOUNT, amount=500) == []


def test_ensure_budget_adds_a_missing_alert_and_audit_reports_it(aws: None) -> None:
    budgets = boto3.client("budgets", region_name="us-east-1")
    ensure_budget(budgets, ACCOUNT, amount=500, owner_email="owner@example.com")
    budgets.delete_notification(AccountId=ACCOUNT, BudgetName=BUDGET_NAME, Notification=ALERTS[1].notification())
    # THEN the check names the missing alert and the wrong amount; ensure_budget puts the alert back
    assert check_budget(budgets, ACCOUNT, amount=500) == [
        f"{ACCOUNT}: budget vend-monthly-spend lacks the FORECASTED 100% alert"
    ]
    assert check_budget(budgets, "999999999999", amount=500) == ["999999999999: no budget vend-monthly-spend"]
    assert ensure_budget(budgets, ACCOUNT, amount=500, owner_email="owner@example.com") == [
        "create_notification FORECASTED 100%"
    ]


def _budget(amount: str) -> dict[str, Any]:
    return {
        "Budget": {
            "BudgetName": BUDGET_NAME,
            "BudgetLimit": {"Amount": amount, "Unit": "USD"},
            "TimeUnit": "MONTHLY",
            "BudgetType": "COST",
        }
    }


def _both_alerts() -> dict[str, Any]:
    return {"Notifications": [a.notification() for a in ALERTS]}


def test_ensure_budget_already_exists_race_converges_the_amount() -> None:
    # GIVEN the budget is missing on read, then created by someone else (DuplicateRecordException) with another amount
    budgets = boto3.client("budgets", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(budgets) as stub:
        stub.add_client_error("describe_budget", service_error_code="NotFoundException", http_status_code=404)
        stub.add_client_error("create_budget", service_error_code="DuplicateRecordException", http_status_code=400)
        stub.add_response("describe_budget", _budget("500.0"), {"AccountId": ACCOUNT, "BudgetName": BUDGET_NAME})
        stub.add_response("update_budget", {}, {"AccountId": ACCOUNT, "NewBudget": ANY})
        stub.add_response(
            "describe_notifications_for_budget", _both_alerts(), {"AccountId": ACCOUNT, "BudgetName": BUDGET_NAME}
        )
        # WHEN it is ensured at 5000 (a tier upgrade)
        changes = ensure_budget(budgets, ACCOUNT, amount=5000, owner_email="owner@example.com")
        stub.assert_no_pending_responses()
    # THEN the existing budget is updated, not created twice
    assert changes == ["update_budget vend-monthly-spend 500.0 -> 5000 USD"]


def test_spend_by_team_and_stage_from_recorded_responses() -> None:
    ce = boto3.client("ce", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(ce) as stub:
        expected = {
            "TimePeriod": {"Start": "2025-03-01", "End": "2025-04-01"},
            "Granularity": "MONTHLY",
            "Metrics": ["UnblendedCost"],
            "GroupBy": [{"Type": "TAG", "Key": "team"}, {"Type": "TAG", "Key": "stage"}],
        }
        stub.add_response("get_cost_and_usage", _recorded("ce_get_cost_and_usage"), expected)
        stub.add_response(
            "get_cost_and_usage", _recorded("ce_get_cost_and_usage_page2"), {**expected, "NextPageToken": "page-2"}
        )
        report = spend_by_team_and_stage(ce, month="2025-03")
        stub.assert_no_pending_responses()
    # THEN pages are summed per team and stage, untagged spend is its own line, largest first
    lines = [(line.team, line.stage, line.amount) for line in report.lines]
    assert lines == [
        ("team-mlops", "production", 8012.04),
        ("team-mlops", "staging", 1235.0),
        ("team-backend", "staging", 600.0),
        ("team-frontend", "staging", 42.1),
        ("(untagged)", "(untagged)", 3.3),
    ]
    assert report.total == 9892.44
    chart = bar_chart(report, width=20)
    assert chart[0].count("█") == 20 and chart[1].count("█") == 3 and "8,012.04 USD" in chart[0]


def test_costs_filter_by_team_and_bad_month() -> None:
    ce = boto3.client("ce", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(ce) as stub:
        stub.add_response(
            "get_cost_and_usage",
            {"ResultsByTime": []},
            {
                "TimePeriod": {"Start": "2024-12-01", "End": "2025-01-01"},
                "Granularity": "MONTHLY",
                "Metrics": ["UnblendedCost"],
                "GroupBy": ANY,
                "Filter": {"Tags": {"Key": "team", "Values": ["team-mlops"], "MatchOptions": ["EQUALS"]}},
            },
        )
        report = spend_by_team_and_stage(ce, month="2024-12", team="team-mlops")
    assert report.lines == [] and bar_chart(report) == ["no spend recorded for 2024-12"]
    with pytest.raises(InvalidRequest, match=r"^month: '2025-13'"):
        month_range("2025-13")
    assert month_range(None, today=date(2025, 2, 7)) == ("2025-02", "2025-02-01", "2025-03-01")


def test_activate_cost_allocation_tags_names_the_mandatory_tags(layout: Layout) -> None:
    ce = boto3.client("ce", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(ce) as stub:
        stub.add_response(
            "update_cost_allocation_tags_status",
            {"Errors": []},
            {
                "CostAllocationTagsStatus": [
                    {"TagKey": "team", "Status": "Active"},
                    {"TagKey": "stage", "Status": "Active"},
                    {"TagKey": "cost-center", "Status": "Active"},
                ]
            },
        )
        assert activate_cost_allocation_tags(ce, layout.organization.mandatory_tags) == []


def test_vend_costs_cli_prints_bar_chart(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    real_client = boto3.Session.client
    stubs: list[Stubber] = []

    def client(self: boto3.Session, name: str, *args: Any, **kwargs: Any) -> Any:
        made = real_client(self, name, *args, **kwargs)
        if name == "ce":
            stub = Stubber(made)
            page = _recorded("ce_get_cost_and_usage")
            page.pop("NextPageToken")
            stub.add_response("get_cost_and_usage", page)
            stub.activate()
            stubs.append(stub)
        return made

    monkeypatch.setattr(boto3.Session, "client", client)
    assert main(["costs", "--month", "2025-03"]) == 0
    out = capsys.readouterr().out
    assert "team-mlops/production" in out and "█" in out and "total 9,292.01 USD" in out
