"""What audit_organization hands on, step by step, and how it assembles the report: each step (snapshot, intent,
compare, the backstop, effective permissions, the GPU, budget, logging, forwarding and drift checks, headroom, the
executor) is a recorder returning a planted result, so a wrong hand-off, a dropped finding or note, a check run without
its input (or not run with it) is named. The steps themselves are tested whole elsewhere (test_audit_units.py,
test_effective_parts.py, test_compare_plan.py, test_drift.py)."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import pytest

from vending.guardrails import audit
from vending.guardrails.orgapi import Backoff
from vending.guardrails.reconcile import Action, Finding, Plan


def _finding(kind: str) -> Finding:
    return Finding(kind, f"account:{kind}", f"{kind} detail", False)


PLANTED = {
    name: _finding(name)
    for name in ("plan", "backstop", "effective", "gpu", "budget", "logging", "forwarding", "drift")
}
SNAP = SimpleNamespace(accounts={"a": 1, "b": 2}, ou_paths={"r-1": "", "ou-1": "X", "ou-2": "X/Y"})
ACTION = Action("attach", "ou-1", "vend-tier")


class Counter:
    total = 7

    def to_dict(self) -> dict[str, Any]:
        return {"total": self.total, "by_operation": {"ListRoots": 1}}


class Recorder:
    """Every step of audit_organization replaced; the arguments of each call kept as they were at the call."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, actions: list[Action], snap: Any = SNAP) -> None:
        self.calls: dict[str, tuple[Any, ...]] = {}
        self.ran: list[list[Action]] = []
        results: dict[str, Any] = {
            "layout_for_records": "<layout for records>",
            "render": "<rendered>",
            "read_snapshot": snap,
            "build_intent": "<intent>",
            "compare": lambda: Plan(
                actions=list(actions), findings=[PLANTED["plan"]], unfixable=["plan: stuck"], notes=["plan note"]
            ),
            "backstop_freezes": ({"fired-1"}, ["backstop note"], [PLANTED["backstop"]]),
            "effective_findings": ([PLANTED["effective"]], ["effective note"]),
            "gpu_findings": ([PLANTED["gpu"]], {"gpu": 1}),
            "budget_findings": ([PLANTED["budget"]], {"budgets": 1}),
            "invocation_logging_findings": ([PLANTED["logging"]], {"logging": 1}),
            "usage_forwarding_findings": ([PLANTED["forwarding"]], {"forwarding": 1}),
            "drift_findings": ([PLANTED["drift"]], {"drift": 1}),
            "headroom": {"headroom": 1},
        }
        for name, result in results.items():
            monkeypatch.setattr(audit, name, self._recording(name, result))
        recorder = self

        class Executor:
            def __init__(self, *args: Any) -> None:
                recorder.calls["Executor"] = args

            def run(self, planned: list[Action]) -> list[str]:
                recorder.ran.append(list(planned))
                return ["executed"]

        monkeypatch.setattr(audit, "Executor", Executor)

    def _recording(self, name: str, result: Any) -> Any:
        def step(*args: Any, **kwargs: Any) -> Any:
            copied = tuple(list(a) if isinstance(a, list) else a for a in args)
            self.calls[name] = (*copied, kwargs) if kwargs else copied
            return result() if callable(result) else result

        return step


LAYOUT = SimpleNamespace(guardrails=SimpleNamespace(audit_concurrency=5))
ORG = object()


def test_every_input_reaches_its_check_and_every_result_reaches_the_report(monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = Recorder(monkeypatch, [ACTION])
    inputs: dict[str, Any] = {
        "inventory": "<inventory>",
        "budgets_for": "<budgets for>",
        "stack_checks": ["<check>"],
        "sessions_for": "<sessions for>",
        "usage_bus_arn": "arn:aws:events:us-east-1:1:event-bus/b",
        "backstop_for": "<backstop for>",
    }
    backoff = Backoff(attempts=2)
    report = audit.audit_organization(
        ORG,
        LAYOUT,  # type: ignore[arg-type]
        records=iter(["r-1", "r-2"]),  # any iterable: read once, handed on as a list
        remediate=True,
        backoff=backoff,
        counter=Counter(),  # type: ignore[arg-type]
        frozen=["111111111111"],
        **inputs,
    )
    calls, records = recorder.calls, ["r-1", "r-2"]
    # the records' layout is rendered; the snapshot is read with the backoff and the layout's concurrency
    assert calls["layout_for_records"] == (LAYOUT, records)
    assert calls["render"] == ("<layout for records>",)
    assert calls["read_snapshot"] == (ORG, {"backoff": backoff, "concurrency": 5})
    # the backstop is asked about the frozen accounts, and the freezes it made are intended with them
    assert calls["backstop_freezes"] == (SNAP, "<rendered>", records, frozenset({"111111111111"}), "<backstop for>")
    assert calls["build_intent"] == (LAYOUT, records, frozenset({"111111111111", "fired-1"}))
    assert calls["compare"] == (LAYOUT, SNAP, "<rendered>", "<intent>")
    # effective permissions know what is unfixable so far (the plan's and the unreadable backstop's)
    assert calls["effective_findings"] == (
        SNAP,
        "<rendered>",
        "<intent>",
        ["plan: stuck", "account:backstop: backstop detail"],
    )
    # each member check gets its input
    assert calls["gpu_findings"] == (LAYOUT, "<intent>", SNAP, "<inventory>")
    assert calls["budget_findings"] == (LAYOUT, records, "<budgets for>")
    assert calls["invocation_logging_findings"] == (records, "<sessions for>")
    assert calls["usage_forwarding_findings"] == (records, "<sessions for>", inputs["usage_bus_arn"])
    assert calls["drift_findings"] == (["<check>"],)
    assert calls["headroom"] == (LAYOUT, SNAP, "<rendered>")
    # the plan is executed with the same organization, snapshot, rendered set and backoff
    assert calls["Executor"] == (ORG, LAYOUT, SNAP, "<rendered>", backoff)
    assert recorder.ran == [[ACTION]]
    # THEN the report holds every finding in order, every note, every summary and the counts
    assert report.findings == list(PLANTED.values())
    assert report.notes == ["plan note", "backstop note", "effective note"]
    assert (report.accounts, report.ous, report.records) == (2, 2, 2)
    assert report.headroom == {"headroom": 1}
    assert (report.inventory, report.budgets, report.invocation_logging, report.usage_forwarding, report.drift) == (
        {"gpu": 1},
        {"budgets": 1},
        {"logging": 1},
        {"forwarding": 1},
        {"drift": 1},
    )
    # AND what remediation did and could not do: everything detective only is unfixable
    assert report.remediation == {
        "executed": ["executed"],
        "unfixable": [
            "plan: stuck",
            "account:backstop: backstop detail",
            "account:gpu: gpu detail (detective only: stop it in the account)",
            "account:budget: budget detail",
            "account:logging: logging detail",
            "account:forwarding: forwarding detail",
            "account:drift: drift detail",
        ],
    }
    assert report.api_calls == {"total": 7, "by_operation": {"ListRoots": 1}, "throttled": 0, "per_account": 3.5}
    assert report.seconds >= 0 and report.generated_at.endswith("+00:00")


def test_without_inputs_no_optional_check_runs_and_its_summary_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = Recorder(monkeypatch, [ACTION])
    report = audit.audit_organization(ORG, LAYOUT, counter=Counter())  # type: ignore[arg-type]
    ran = set(recorder.calls)
    # the layout is rendered as it is; no record, no freeze, no member check
    assert ran == {"render", "read_snapshot", "build_intent", "compare", "effective_findings", "headroom"}
    assert recorder.calls["render"] == (LAYOUT,)
    assert recorder.calls["build_intent"] == (LAYOUT, None, None)
    assert report.findings == [PLANTED["plan"], PLANTED["effective"]]
    assert report.notes == ["plan note", "effective note"]
    assert (report.records, report.inventory, report.budgets, report.invocation_logging) == (None, None, None, None)
    assert (report.usage_forwarding, report.drift, report.remediation) == (None, None, None)
    assert recorder.ran == []


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        # member access without records: nothing can be checked inside the accounts
        ({"budgets_for": "<b>", "sessions_for": "<s>", "usage_bus_arn": "bus"}, set()),
        # records and sessions, no bus: logging is checked, forwarding is not
        ({"records": [], "sessions_for": "<s>"}, {"invocation_logging_findings"}),
        # records and a bus, no sessions: neither
        ({"records": [], "usage_bus_arn": "bus"}, set()),
        # records and sessions with a bus: both
        (
            {"records": [], "sessions_for": "<s>", "usage_bus_arn": "bus"},
            {
                "invocation_logging_findings",
                "usage_forwarding_findings",
            },
        ),
        # records and budgets: the budgets
        ({"records": [], "budgets_for": "<b>"}, {"budget_findings"}),
        # the backstop needs the frozen ids and the records too
        ({"records": [], "backstop_for": "<k>"}, set()),
        ({"frozen": [], "backstop_for": "<k>"}, set()),
        ({"records": [], "frozen": [], "backstop_for": "<k>"}, {"backstop_freezes"}),
    ],
)
def test_each_check_runs_exactly_when_its_inputs_are_given(
    monkeypatch: pytest.MonkeyPatch, given: dict[str, Any], expected: set[str]
) -> None:
    recorder = Recorder(monkeypatch, [])
    audit.audit_organization(ORG, LAYOUT, counter=Counter(), **given)  # type: ignore[arg-type]
    optional = {
        "backstop_freezes",
        "budget_findings",
        "invocation_logging_findings",
        "usage_forwarding_findings",
        "gpu_findings",
        "drift_findings",
    }
    assert set(recorder.calls) & optional == expected


def test_remediation_with_an_empty_plan_executes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    three = SimpleNamespace(accounts={"a": 1, "b": 2, "c": 3}, ou_paths={"r-1": ""})
    recorder = Recorder(monkeypatch, [], snap=three)
    report = audit.audit_organization(ORG, LAYOUT, counter=Counter(), remediate=True)  # type: ignore[arg-type]
    assert "Executor" not in recorder.calls and recorder.ran == []
    assert report.remediation == {"executed": [], "unfixable": ["plan: stuck"]}
    # AND the calls per account are rounded to three places
    assert report.api_calls["per_account"] == 2.333


@pytest.mark.parametrize("accounts", [0, 1])
def test_calls_per_account_of_an_organization_of_one_or_no_member_account_are_all_the_calls(
    monkeypatch: pytest.MonkeyPatch, accounts: int
) -> None:
    Recorder(monkeypatch, [], snap=SimpleNamespace(accounts=dict.fromkeys("a"[:accounts]), ou_paths={"r-1": ""}))
    report = audit.audit_organization(ORG, LAYOUT, counter=Counter())  # type: ignore[arg-type]
    assert (report.accounts, report.api_calls["per_account"]) == (accounts, 7.0)


def test_without_a_counter_the_audit_counts_on_the_organizations_client_it_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import boto3

    Recorder(monkeypatch, [])
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    org = boto3.client("organizations", region_name="us-east-1")
    started = time.perf_counter()
    report = audit.audit_organization(org, LAYOUT)  # type: ignore[arg-type]
    elapsed = time.perf_counter() - started
    # THEN the planted snapshot made no call through it (the counter attached to the client, not to nothing)
    assert (report.api_calls["total"], report.api_calls["throttled"]) == (0, 0)
    # AND the report's seconds are the audit's own (a bound, not a timing: at most the call's wall time)
    assert 0 <= report.seconds <= elapsed
