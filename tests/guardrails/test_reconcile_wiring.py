"""What reconcile_organization hands on, step by step: the records to layout_for_records (team region fences follow the
records), the rendered set and snapshot to compare, `frozen` to build_intent, its backoff to read_snapshot and the
Executor, and nothing executed on a dry run or an empty plan. The steps themselves are tested whole elsewhere
(test_compare_plan.py, test_executor.py, test_snapshot.py); here each is a recorder, so a wrong hand-off is named."""

from __future__ import annotations

from typing import Any

import pytest

from vending.guardrails import reconcile
from vending.guardrails.orgapi import Backoff
from vending.guardrails.reconcile import Action, Plan


class Recorder:
    def __init__(self, monkeypatch: pytest.MonkeyPatch, actions: list[Action]) -> None:
        self.calls: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = {}
        self.ran: list[list[Action]] = []
        self.actions = actions
        for name in ("layout_for_records", "render", "read_snapshot", "build_intent", "compare"):
            monkeypatch.setattr(reconcile, name, self._recording(name))
        recorder = self

        class Executor:
            def __init__(self, *args: Any) -> None:
                recorder.calls["Executor"] = (args, {})

            def run(self, actions: list[Action]) -> None:
                recorder.ran.append(list(actions))

        monkeypatch.setattr(reconcile, "Executor", Executor)

    def _recording(self, name: str) -> Any:
        def step(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] = (args, kwargs)
            if name == "compare":
                return Plan(actions=list(self.actions))
            return f"<{name}>"

        return step


class Layout:
    class guardrails:  # the attribute path reconcile_organization reads
        audit_concurrency = 7


ORG, LAYOUT = object(), Layout()
ACTION = Action("attach", "ou-1", "vend-tier")


def test_records_frozen_and_backoff_are_handed_on(monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = Recorder(monkeypatch, [ACTION])
    backoff = Backoff(attempts=2)
    records = iter(["record-a", "record-b"])  # any iterable: read once, handed on as a list
    plan = reconcile.reconcile_organization(
        ORG, LAYOUT, dry_run=False, backoff=backoff, records=records, frozen=["111111111111"]
    )
    calls = recorder.calls
    # the layout the records make is what is rendered
    assert calls["layout_for_records"] == ((LAYOUT, ["record-a", "record-b"]), {})
    assert calls["render"] == (("<layout_for_records>",), {})
    # the snapshot is read with the given backoff and the layout's concurrency
    assert calls["read_snapshot"] == ((ORG,), {"backoff": backoff, "concurrency": 7})
    # the intent has the records and the frozen accounts; compare gets the layout, snapshot, rendered set and intent
    assert calls["build_intent"] == ((LAYOUT, ["record-a", "record-b"], ["111111111111"]), {})
    assert calls["compare"] == ((LAYOUT, "<read_snapshot>", "<render>", "<build_intent>"), {})
    # the plan is executed with the same organization, snapshot, rendered set and backoff
    assert calls["Executor"] == ((ORG, LAYOUT, "<read_snapshot>", "<render>", backoff), {})
    assert recorder.ran == [[ACTION]] and plan.executed


def test_without_records_the_layout_is_rendered_as_it_is_and_freezes_are_not_intended(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recorder = Recorder(monkeypatch, [])
    plan = reconcile.reconcile_organization(ORG, LAYOUT, dry_run=False)
    assert "layout_for_records" not in recorder.calls
    assert recorder.calls["render"] == ((LAYOUT,), {})
    assert recorder.calls["build_intent"] == ((LAYOUT, None, None), {})
    # a default backoff is made (not None) for the read
    _, kwargs = recorder.calls["read_snapshot"]
    assert isinstance(kwargs["backoff"], Backoff) and kwargs["concurrency"] == 7
    # an empty plan executes nothing and says so
    assert "Executor" not in recorder.calls and not plan.executed


def test_an_empty_record_list_is_records_not_their_absence(monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = Recorder(monkeypatch, [])
    reconcile.reconcile_organization(ORG, LAYOUT, dry_run=True, records=[])
    assert recorder.calls["layout_for_records"] == ((LAYOUT, []), {})
    assert recorder.calls["build_intent"] == ((LAYOUT, [], None), {})


def test_a_given_snapshot_is_not_read_again_and_a_dry_run_executes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = Recorder(monkeypatch, [ACTION])
    given = object()
    plan = reconcile.reconcile_organization(ORG, LAYOUT, dry_run=True, snapshot=given)  # type: ignore[arg-type]
    assert "read_snapshot" not in recorder.calls
    assert recorder.calls["compare"][0][1] is given
    assert "Executor" not in recorder.calls and not plan.executed and plan.actions == [ACTION]


def test_the_executor_gets_the_given_snapshot(monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = Recorder(monkeypatch, [ACTION])
    given = object()
    reconcile.reconcile_organization(ORG, LAYOUT, dry_run=False, snapshot=given)  # type: ignore[arg-type]
    assert recorder.calls["Executor"][0][2] is given
