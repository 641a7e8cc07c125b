"""The audit's parts one at a time, with their inputs recorded: the scheduled entry point hands every setting on, the
budget and member checks read only the accounts that must carry what they check, and the member clients are made
through the access role with the audit's own session names."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from botocore.exceptions import ClientError

from scps.render import FULL_AWS_ACCESS, render
from tests.guardrails.conftest import record_for, snapshot_of
from vending.budgets import BUDGET_NAME
from vending.exceptions import AccessRoleNotReady, VendingError
from vending.guardrails import audit
from vending.guardrails.audit import AuditReport, budget_findings, member_budgets, member_sessions
from vending.guardrails.reconcile import Finding
from vending.guardrails.snapshot import Policy
from vending.layout import Layout

A, B, C, D = "111111111111", "222222222222", "333333333333", "444444444444"


def test_run_scheduled_audit_hands_every_setting_to_the_audit_and_the_publisher(
    monkeypatch: pytest.MonkeyPatch, layout: Layout
) -> None:
    # GIVEN recorders in place of the audit and the publisher, and a distinct value for every setting
    seen: dict[str, Any] = {}
    report = AuditReport("2026-12-06T00:00:00Z", 1, 1, [Finding("scp_missing", "account:1", "d", True)], {})

    def fake_audit(org: Any, layout_: Any, **kwargs: Any) -> AuditReport:
        seen["audit"] = {"org": org, "layout": layout_, **kwargs}
        return report

    def fake_publish(report_: Any, **kwargs: Any) -> None:
        seen["publish"] = {"report": report_, **kwargs}

    monkeypatch.setattr(audit, "audit_organization", fake_audit)
    monkeypatch.setattr(audit, "publish", fake_publish)
    given = {
        "records": ["r"],
        "frozen": ["f"],
        "inventory": object(),
        "budgets_for": object(),
        "stack_checks": [{"x": 1}],
        "remediate": True,
        "sessions_for": object(),
        "usage_bus_arn": "arn:aws:events:us-east-1:1:event-bus/b",
        "backstop_for": object(),
    }
    org, s3, events, metrics = object(), object(), object(), object()

    # WHEN the scheduled audit runs
    summary = audit.run_scheduled_audit(
        org=org,
        s3=s3,
        events=events,
        layout=layout,
        bucket="reports",
        event_bus="bus",
        source="vending.audit",
        metrics=metrics,
        **given,
    )

    # THEN the audit got each setting as given, the publisher the report and its destinations, and the summary is the
    # report's
    assert seen["audit"] == {"org": org, "layout": layout, **given}
    assert seen["publish"] == {
        "report": report,
        "s3": s3,
        "events": events,
        "bucket": "reports",
        "event_bus": "bus",
        "source": "vending.audit",
        "metrics": metrics,
    }
    assert summary == report.summary()


def test_run_scheduled_audit_defaults_are_the_absent_inputs(monkeypatch: pytest.MonkeyPatch, layout: Layout) -> None:
    seen: dict[str, Any] = {}
    monkeypatch.setattr(
        audit, "audit_organization", lambda org, layout_, **kw: seen.update(kw) or AuditReport("t", 0, 0, [], {})
    )
    monkeypatch.setattr(audit, "publish", lambda report, **kw: seen.update(published=kw))
    audit.run_scheduled_audit(
        org=None, s3=None, events=None, layout=layout, records=[], bucket="", event_bus="", source="s"
    )
    assert seen == {
        "records": [],
        "frozen": None,
        "inventory": None,
        "budgets_for": None,
        "stack_checks": None,
        "remediate": False,
        "sessions_for": None,
        "usage_bus_arn": None,
        "backstop_for": None,
        "published": {"s3": None, "events": None, "bucket": "", "event_bus": "", "source": "s", "metrics": None},
    }


class Budgets:
    """A Budgets client per account, answering DescribeBudget and DescribeNotificationsForBudget from a table."""

    def __init__(self, account_id: str, amount: float | None, alerts: int = 2, error: str = "") -> None:
        self.account_id, self.amount, self.alerts, self.error = account_id, amount, alerts, error

    def describe_budget(self, AccountId: str, BudgetName: str) -> dict[str, Any]:
        assert (AccountId, BudgetName) == (self.account_id, BUDGET_NAME)
        if self.error:
            raise ClientError({"Error": {"Code": self.error, "Message": "no"}}, "DescribeBudget")
        if self.amount is None:
            raise ClientError({"Error": {"Code": "NotFoundException", "Message": "gone"}}, "DescribeBudget")
        return {"Budget": {"BudgetLimit": {"Amount": str(self.amount), "Unit": "USD"}, "TimeUnit": "MONTHLY"}}

    def describe_notifications_for_budget(self, AccountId: str, BudgetName: str, **_: Any) -> dict[str, Any]:
        from vending.budgets import ALERTS

        return {"Notifications": [a.notification() for a in ALERTS[: self.alerts]]}


def test_budget_findings_checks_only_the_accounts_that_must_carry_one(layout: Layout) -> None:
    # GIVEN records in every kind of state: only PIPELINES, READY and UPDATING accounts must carry a budget
    records = [
        record_for(layout, "team-frontend", "staging", A, status="READY"),
        record_for(layout, "team-frontend", "production", B, status="PIPELINES"),
        record_for(layout, "team-backend", "staging", C, status="UPDATING"),
        record_for(layout, "team-backend", "production", D, status="BOOTSTRAPPING"),
        record_for(layout, "team-mlops", "staging", "555555555555", status="SUSPENDED"),
        record_for(layout, "team-mlops", "production", None, status="READY"),
        record_for(layout, "team-mlops", "staging", "666666666666", gpu_tier="gold").model_copy(
            update={"request_id": "a-unknown-tier"}  # sorted first: the rest are still read
        ),
    ]
    asked: list[str] = []
    amounts = {A: 500.0, B: None, C: 123.0}

    def budgets_for(account_id: str) -> Any:
        asked.append(account_id)
        return Budgets(account_id, amounts[account_id])

    # WHEN the budgets are read
    findings, counts = budget_findings(layout, records, budgets_for)

    # THEN only those three accounts were read, in request order, and each problem is one finding on its account
    assert asked == [C, B, A]
    backend = layout.monthly_budget("team-backend", "inference")
    assert [(f.type, f.target, f.detail, f.fixable) for f in findings] == [
        (
            "budget_drift",
            f"account:{C}",
            f"{C}: budget {BUDGET_NAME} is 123.0 USD, intended {backend:g} USD (team-backend-staging)",
            False,
        ),
        ("budget_missing", f"account:{B}", f"{B}: no budget {BUDGET_NAME} (team-frontend-production)", False),
    ]
    assert counts == {"checked": 3, "findings": 2}


@pytest.mark.parametrize(
    "error",
    [ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "DescribeBudget"), AccessRoleNotReady("x")],
)
def test_budget_findings_an_unreadable_account_is_a_finding_and_not_checked(layout: Layout, error: Exception) -> None:
    records = [
        record_for(layout, "team-frontend", "staging", A),
        record_for(layout, "team-frontend", "production", B),
    ]

    def budgets_for(account_id: str) -> Any:
        if account_id == B:  # team-frontend-production: read first, the staging account after it
            raise error
        return Budgets(account_id, layout.monthly_budget("team-frontend", "none"))

    findings, counts = budget_findings(layout, records, budgets_for)

    assert [(f.type, f.target, f.detail, f.fixable) for f in findings] == [
        ("budget_unreadable", f"account:{B}", f"cannot read budget {BUDGET_NAME}: {error}", False)
    ]
    assert counts == {"checked": 1, "findings": 1}


def test_member_findings_prefix_each_kind_and_name_the_request(layout: Layout) -> None:
    records = [
        record_for(layout, "team-frontend", "staging", A, regions=["us-east-1", "us-west-2"]),
        record_for(layout, "team-frontend", "production", B, regions=None),
        record_for(layout, "team-backend", "staging", C, status="CREATING"),
        record_for(layout, "team-backend", "production", D),
    ]
    asked: list[tuple[Any, str, list[str]]] = []

    def check(session: Any, account_id: str, regions: list[str]) -> dict[str, list[str]]:
        asked.append((session, account_id, regions))
        if account_id == D:
            raise AccessRoleNotReady("not yet")
        return {"off": [f"{account_id} off"], "drift": []} if account_id == A else {}

    findings, counts = audit._member_findings(records, lambda a: f"session-{a}", "thing", "the thing", check)

    backend = layout.team("team-backend")
    assert backend is not None
    assert asked == [
        (f"session-{D}", D, list(backend.regions)),
        (f"session-{B}", B, []),
        (f"session-{A}", A, ["us-east-1", "us-west-2"]),
    ]
    assert [(f.type, f.target, f.detail, f.fixable) for f in findings] == [
        ("thing_unreadable", f"account:{D}", "cannot read the thing: not yet", False),
        ("thing_off", f"account:{A}", f"{A} off (team-frontend-staging)", False),
    ]
    assert counts == {"checked": 2, "findings": 2}


def test_member_clients_assume_the_access_role_with_the_audit_s_session_names(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[tuple[Any, str, str, str]] = []

    class Session:
        def client(self, service: str, region_name: str) -> tuple[str, str]:
            return service, region_name

    def assume(sts: Any, role_arn: str, session_name: str, region: str) -> Session:
        made.append((sts, role_arn, session_name, region))
        return Session()

    monkeypatch.setattr(audit, "assume_role_session", assume)
    sts = object()
    assert member_budgets(sts, "AccessRole")(A) == ("budgets", "us-east-1")
    assert member_budgets(sts, "AccessRole", "named")(B) == ("budgets", "us-east-1")
    assert isinstance(member_sessions(sts, "AccessRole")(C), Session)
    assert isinstance(member_sessions(sts, "AccessRole", "other")(D), Session)
    assert made == [
        (sts, f"arn:aws:iam::{A}:role/AccessRole", "vending-audit-budgets", "us-east-1"),
        (sts, f"arn:aws:iam::{B}:role/AccessRole", "named", "us-east-1"),
        (sts, f"arn:aws:iam::{C}:role/AccessRole", "vending-audit-logging", "us-east-1"),
        (sts, f"arn:aws:iam::{D}:role/AccessRole", "other", "us-east-1"),
    ]


def test_backstop_freezes_read_only_unrecorded_freezes_and_keep_what_cannot_be_read(layout: Layout) -> None:
    rendered = render(layout)
    freeze = rendered.freeze_policy
    E, F, G = "555555555555", "666666666666", "777777777777"
    # GIVEN freezes attached to A, B, C (no freeze record), D (its record stands) and G (no vending record); E carries
    # nothing at all, F only another policy; records for all but G, and one record without an account
    snap = snapshot_of(
        {"r-1": "", "ou-1": "Workloads"},
        dict.fromkeys((A, B, C, D, E, F, G), "ou-1"),
        [Policy("p-freeze", freeze, False, "{}", {C, A, B, D, G}), Policy("p-other", "Other", False, "{}", {F})],
    )
    records = [record_for(layout, "team-frontend", "staging", i) for i in (C, B, A, D, E, F)] + [
        record_for(layout, "team-backend", "staging", None)
    ]
    actions = {
        C: {"Status": "EXECUTION_SUCCESS", "ActionId": "act-c"},
        B: {"Status": "STANDBY", "ActionId": "act-b"},
    }
    asked: list[str] = []

    def backstop_for(account_id: str) -> dict[str, Any] | None:
        asked.append(account_id)
        if account_id == A:  # first in account order: the ones after it are read all the same
            raise VendingError("throttled")
        return actions.get(account_id)

    # WHEN the audit asks which freezes the backstop made
    adopted, notes, findings = audit.backstop_freezes(snap, rendered, records, frozenset({D}), backstop_for)
    # THEN only the unrecorded freezes with a record are read, once each, in account order
    assert asked == [A, B, C]
    # AND the executed action's freeze is adopted with a note; the unreadable one is kept, as a finding no one fixes
    assert adopted == {A, C}
    assert notes == [f"account:{C}: {audit.BACKSTOP_NOTE} (action act-c)"]
    assert findings == [
        Finding(
            "backstop_unreadable",
            f"account:{A}",
            f"{freeze} attached without a freeze record and its Budgets backstop action cannot be read (throttled); "
            "left in place",
            False,
        )
    ]
    # AND without a freeze policy in the layout nothing is read
    asked.clear()
    assert audit.backstop_freezes(snap, replace(rendered, freeze_policy=""), records, frozenset(), backstop_for) == (
        set(),
        [],
        [],
    )
    assert asked == []


def test_headroom_is_the_room_left_on_each_target_from_what_is_attached(layout: Layout) -> None:
    rendered = render(layout)
    max_n, max_c = rendered.max_policies_per_target, rendered.max_policy_chars
    # GIVEN the root with FullAWSAccess (its text read), a customer policy and an AWS-managed one whose text was not;
    # the Workloads OU over the limit (six policies); 52 accounts with five (P1..P5), one with four and one with none;
    # Platform with nothing attached; and an OU the layout does not have
    full = [f"{i:012d}" for i in range(52)]
    four, empty = "111111111111", "222222222222"
    six = [f"P{i}" for i in range(1, 7)]
    policies = [
        Policy("p-full", FULL_AWS_ACCESS, True, '{"full": 1}', {"r-1"}),
        Policy("p-big", "Big", False, "x" * 100, {"r-1"}),
        Policy("p-managed", "Managed", True, None, {"r-1"}),
        *(
            Policy(f"p-{n}", n, False, "y" * 10, {"ou-w", *(full if n != "P6" else []), *([four] if n < "P5" else [])})
            for n in six
        ),
    ]
    snap = snapshot_of(
        {"r-1": "", "ou-w": "Workloads", "ou-p": "Platform", "ou-x": "NotInLayout"},
        dict.fromkeys((*full, four, empty), "ou-w"),
        policies,
    )
    root_slots = max_n - 3
    # THEN each target's attachments, slots and characters left (a target over the limit has no free slot to count)
    assert audit.headroom(layout, snap, rendered) == {
        "limits": {"max_policies_per_target": max_n, "max_policy_chars": max_c},
        "targets": {
            "root": {
                "attached": ["Big", FULL_AWS_ACCESS, "Managed"],
                "slots_left": root_slots,
                "policy_chars": {"Big": 100},
                "chars_left": (max_c - 100) + root_slots * max_c,
            },
            "ou:Platform": {"attached": [], "slots_left": max_n, "policy_chars": {}, "chars_left": max_n * max_c},
            "ou:Workloads": {
                "attached": six,
                "slots_left": max_n - 6,
                "policy_chars": dict.fromkeys(six, 10),
                "chars_left": 6 * (max_c - 10),
            },
        },
        # AND accounts with at most one free slot are tight: the first 50 listed, all counted
        "accounts": {"min_slots_left": 0, "tight": sorted([*full, four])[:50], "tight_count": 53},
    }
    # AND an organization without member accounts has the whole limit left
    assert audit.headroom(layout, replace(snap, accounts={}), rendered)["accounts"] == {
        "min_slots_left": max_n,
        "tight": [],
        "tight_count": 0,
    }


@pytest.mark.parametrize(
    ("check", "kind", "what"),
    [
        (audit.invocation_logging_findings, "invocation_logging", "invocation logging"),
        (
            lambda records, sessions: audit.usage_forwarding_findings(records, sessions, "bus"),
            "usage_forwarding",
            "usage forwarding",
        ),
    ],
)
def test_member_checks_name_what_could_not_be_read(layout: Layout, check: Any, kind: str, what: str) -> None:
    # GIVEN an account whose access role cannot be assumed yet
    def session_for(account_id: str) -> Any:
        raise AccessRoleNotReady(f"{account_id} not yet")

    findings, counts = check([record_for(layout, "team-frontend", "staging", A)], session_for)
    # THEN the finding names the check and the reason, and the account is not counted as checked
    assert findings == [Finding(f"{kind}_unreadable", f"account:{A}", f"cannot read {what}: {A} not yet", False)]
    assert counts == {"checked": 0, "findings": 1}


def test_a_drift_check_queued_exactly_the_bound_ago_is_not_yet_stale(monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import UTC, datetime

    class Frozen(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return datetime(2026, 12, 6, 12, 0, 0, tzinfo=UTC)

    monkeypatch.setattr(audit, "datetime", Frozen)

    def queued(at: str) -> dict[str, Any]:
        return {"run_id": at, "stack_path": "t/staging/s", "account_id": A, "status": "QUEUED", "queued_at": at}

    # GIVEN checks queued exactly 60 s and 61 s before the audit's clock, with a 60 s bound
    at_bound, past = "2026-12-06T11:59:00+00:00", "2026-12-06T11:58:59+00:00"
    findings, _ = audit.drift_findings([queued(at_bound), queued(past)], stale_after_seconds=60)
    # THEN only the one queued longer ago than the bound is unchecked
    assert [f.detail for f in findings] == [f"the check queued at {past} never finished (account {A}, checked never)"]
