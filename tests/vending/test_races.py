# ruff: noqa: F811  (the fixtures imported from test_changes are the parameters of these tests)
"""Day-2 races settled by one conditional write (issue 23 item 1): concurrent updates, approvals, an approval against
a decommission, decommissions, resumes. Real threads released together by a barrier, against moto with DynamoDB's
per-item write atomicity (landing_zone.local.dynamodb); the update race also driven through the `vend` CLI."""

from __future__ import annotations

import itertools
import json
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from tests.vending.test_changes import APPROVER, REGION, changes, frontend, lifecycle_machine  # noqa: F401
from vending.changes import ChangeStatus, ChangeStore, approve_change, begin_change, finish_change, request_change
from vending.decommission import start_decommission
from vending.exceptions import ChangeNotAllowed
from vending.layout import Layout
from vending.lifecycle import RequestRecord, RequestStore, Status
from vending.workflow import WorkflowSettings

CALLERS = 10
ADMIN = "arn:aws:iam::123456789012:role/PlatformAdmin"


def all_at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run every call in its own thread, released together; each answer (a result or the exception raised)."""
    barrier = threading.Barrier(len(calls))
    answers: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        try:
            answers[i] = calls[i]()
        except Exception as e:  # a refusal (or a crash) is an answer the test must see
            answers[i] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return answers


def executions(machine: str) -> list[str]:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    return [e["name"] for e in sfn.list_executions(stateMachineArn=machine)["executions"]]


def region_sets(current: list[str]) -> list[list[str]]:
    allowed = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1"]
    subsets = (list(c) for n in (1, 2, 3) for c in itertools.combinations(allowed, n))
    return [s for s in subsets if sorted(s) != sorted(current)][:CALLERS]


def refused(answers: list[Any]) -> list[str]:
    return [str(a) for a in answers if isinstance(a, ChangeNotAllowed)]


def test_concurrent_updates_one_change_one_execution_losers_refused_naming_it(
    frontend: RequestRecord, store: RequestStore, changes: ChangeStore, layout: Layout, lifecycle_machine: str
) -> None:
    # GIVEN a READY staging account and ten callers each asking for a different region set (no approval needed)
    sets = region_sets(frontend.request["regions"])
    calls = [
        (
            lambda regions=regions: request_change(
                store,
                changes,
                layout,
                frontend.request_id,
                {"regions": regions},
                by=ADMIN,
                sfn=boto3.client("stepfunctions", region_name=REGION),
                state_machine_arn=lifecycle_machine,
                settings=WorkflowSettings(),
            )
        )
        for regions in sets
    ]
    # WHEN they all file at the same moment
    answers = all_at_once(calls)
    # THEN exactly one change was filed and started; the nine others were refused naming it, and recorded nothing
    won = [a for a in answers if not isinstance(a, Exception)]
    assert len(won) == 1, answers
    winner = won[0]
    assert len(refused(answers)) == CALLERS - 1, answers
    assert all(f"held by change {winner.change_id}" in r for r in refused(answers)), refused(answers)
    assert [c.change_id for c in changes.for_request(frontend.request_id)] == [winner.change_id]
    assert executions(lifecycle_machine) == [winner.execution_name]
    record = store.require(frontend.request_id)
    assert record.status == Status.READY and record.open_change and record.open_change["change_id"] == winner.change_id
    assert record.request["regions"] == frontend.request["regions"]  # nothing applied before the execution begins
    # AND the winner's execution begins and finishes; the record ends READY with the winner's regions only
    begin_change(store, changes, winner.change_id, winner.execution_name)
    finish_change(store, changes, winner.change_id, pipelines={})
    after = store.require(frontend.request_id)
    assert (after.status, after.request["regions"], after.open_change) == (Status.READY, winner.new["regions"], None)
    print(f"\nupdates x{CALLERS}: 1 filed ({winner.change_id}), {len(refused(answers))} refused, executions 1")


def test_concurrent_cli_updates_one_change_the_rest_exit_2_naming_it(
    frontend: RequestRecord,
    store: RequestStore,
    changes: ChangeStore,
    lifecycle_machine: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from vending.aws.identity import principal_from_arn
    from vending.cli import caller, main

    # (moto's mock answers GetCallerIdentity with a made-up `sts::…:user/moto`; here the CLI is an admin session)
    admin = principal_from_arn("arn:aws:sts::123456789012:assumed-role/PlatformAdmin/alice")
    monkeypatch.setattr(caller, "caller_principal", lambda _sts: admin)
    # GIVEN ten admins running `vend request update` at once, with different GPU tiers (upgrades: approval needed)
    monkeypatch.setenv("VEND_LIFECYCLE_STATE_MACHINE_ARN", lifecycle_machine)
    tiers = ["inference", "training"] * (CALLERS // 2)
    calls = [
        (lambda tier=tier: main(["request", "update", frontend.request_id, "--gpu-tier", tier, "--json"]))
        for tier in tiers
    ]
    # WHEN they run
    codes = all_at_once(calls)
    out, err = capsys.readouterr()
    # THEN one exits 0 with its change awaiting approval, nine exit 2 naming that change; one change recorded
    assert Counter(codes) == {0: 1, 2: CALLERS - 1}, (codes, err)
    filed = changes.for_request(frontend.request_id)
    assert len(filed) == 1 and filed[0].status == ChangeStatus.AWAITING_APPROVAL
    assert json.loads(out)["change_id"] == filed[0].change_id
    assert err.count(f"ChangeNotAllowed: request: {frontend.request_id} is held by change {filed[0].change_id}") == 9
    assert "Traceback" not in err
    # AND nothing started, the record still says READY with the old tier
    record = store.require(frontend.request_id)
    assert (record.status, record.request["gpu_tier"]) == (Status.READY, "none")
    assert executions(lifecycle_machine) == []


def _awaiting(store: RequestStore, changes: ChangeStore, layout: Layout, request_id: str, machine: str) -> Any:
    """GIVEN a tier upgrade filed by the admin, awaiting approval."""
    return request_change(
        store,
        changes,
        layout,
        request_id,
        {"gpu_tier": "inference"},
        by=ADMIN,
        sfn=boto3.client("stepfunctions", region_name=REGION),
        state_machine_arn=machine,
        settings=WorkflowSettings(),
    )


def _approve(store: RequestStore, changes: ChangeStore, ident: str, machine: str, session: str) -> Any:
    return approve_change(
        store,
        changes,
        ident,
        by=APPROVER,
        session=session,
        sfn=boto3.client("stepfunctions", region_name=REGION),
        state_machine_arn=machine,
        settings=WorkflowSettings(),
    )


def test_concurrent_approvals_one_wins_the_record_keeps_the_winner(
    frontend: RequestRecord, store: RequestStore, changes: ChangeStore, layout: Layout, lifecycle_machine: str
) -> None:
    change = _awaiting(store, changes, layout, frontend.request_id, lifecycle_machine)
    assert change.status == ChangeStatus.AWAITING_APPROVAL
    # WHEN ten approver sessions approve it at the same moment
    calls = [
        (lambda i=i: _approve(store, changes, frontend.request_id, lifecycle_machine, f"approver-{i}"))
        for i in range(CALLERS)
    ]
    answers = all_at_once(calls)
    # THEN one approval is recorded and one execution started; nine are refused naming the approval that won
    won = [a for a in answers if not isinstance(a, Exception)]
    assert len(won) == 1, answers
    assert len(refused(answers)) == CALLERS - 1, answers
    stored = changes.require(change.change_id)
    assert (stored.status, stored.approved_session) == (ChangeStatus.RUNNING, won[0].approved_session)
    assert all(f"approved by {APPROVER}" in r and "RUNNING" in r for r in refused(answers))
    assert executions(lifecycle_machine) == [won[0].execution_name]


def _decommission(store: RequestStore, changes: ChangeStore, request_id: str, machine: str) -> Any:
    return start_decommission(
        store,
        changes,
        request_id,
        sfn=boto3.client("stepfunctions", region_name=REGION),
        state_machine_arn=machine,
        settings=WorkflowSettings(),
    )


def test_approvals_racing_decommissions_exactly_one_wins(
    frontend: RequestRecord, store: RequestStore, changes: ChangeStore, layout: Layout, lifecycle_machine: str
) -> None:
    change = _awaiting(store, changes, layout, frontend.request_id, lifecycle_machine)
    # WHEN five approvals and five decommissions of the same account are sent at the same moment
    calls: list[Callable[[], Any]] = []
    for i in range(CALLERS // 2):
        calls.append(lambda i=i: _approve(store, changes, change.change_id, lifecycle_machine, f"approver-{i}"))
        calls.append(lambda: _decommission(store, changes, frontend.request_id, lifecycle_machine))
    answers = all_at_once(calls)
    # THEN exactly one caller won; every other one was refused, and the state is the winner's alone
    won = [a for a in answers if not isinstance(a, Exception)]
    assert len(won) == 1 and len(refused(answers)) == CALLERS - 1, answers
    record, stored = store.require(frontend.request_id), changes.require(change.change_id)
    started = executions(lifecycle_machine)
    if isinstance(won[0], tuple):  # the decommission won: the change was cancelled, never started
        assert (record.status, stored.status) == (Status.RETIRING, ChangeStatus.CANCELLED)
        assert started == [won[0][0]] and record.execution_name == won[0][0]
    else:  # the approval won: the change runs, the account was not retired
        assert (record.status, stored.status) == (Status.READY, ChangeStatus.RUNNING)
        assert started == [stored.execution_name]
    print(f"\napprove x5 vs decommission x5: winner {type(won[0]).__name__}, executions {started}")


@pytest.mark.parametrize("winner", ["approval", "decommission"])
def test_approval_and_decommission_in_turn_the_second_is_refused(
    frontend: RequestRecord,
    store: RequestStore,
    changes: ChangeStore,
    layout: Layout,
    lifecycle_machine: str,
    winner: str,
) -> None:
    # Both orders, deterministically (the race above lands on one of them): the loser is told what won.
    change = _awaiting(store, changes, layout, frontend.request_id, lifecycle_machine)
    if winner == "approval":
        _approve(store, changes, change.change_id, lifecycle_machine, "approver")
        with pytest.raises(ChangeNotAllowed, match=rf"held by change {change.change_id} \(approved by .*RUNNING"):
            _decommission(store, changes, frontend.request_id, lifecycle_machine)
        assert store.require(frontend.request_id).status == Status.READY
    else:
        _decommission(store, changes, frontend.request_id, lifecycle_machine)
        with pytest.raises(ChangeNotAllowed, match=r"CANCELLED\) is not awaiting approval; nothing was approved"):
            _approve(store, changes, change.change_id, lifecycle_machine, "approver")
        assert changes.require(change.change_id).status == ChangeStatus.CANCELLED
    assert len(executions(lifecycle_machine)) == 1


def test_concurrent_decommissions_start_one_retirement(
    frontend: RequestRecord, store: RequestStore, changes: ChangeStore, lifecycle_machine: str
) -> None:
    answers = all_at_once([lambda: _decommission(store, changes, frontend.request_id, lifecycle_machine)] * CALLERS)
    won = [a for a in answers if not isinstance(a, Exception)]
    assert len(won) == 1 and len(refused(answers)) == CALLERS - 1, answers
    assert all("being decommissioned already" in r for r in refused(answers))
    assert executions(lifecycle_machine) == [won[0][0]]


def test_a_change_that_lost_never_fails_the_winners_record(
    frontend: RequestRecord, store: RequestStore, changes: ChangeStore, layout: Layout, lifecycle_machine: str
) -> None:
    # GIVEN the winner's change has begun (UPDATING under its execution)
    sfn = boto3.client("stepfunctions", region_name=REGION)
    winner = request_change(
        store,
        changes,
        layout,
        frontend.request_id,
        {"regions": ["us-east-1", "eu-west-1"]},
        by=ADMIN,
        sfn=sfn,
        state_machine_arn=lifecycle_machine,
        settings=WorkflowSettings(),
    )
    updating = begin_change(store, changes, winner.change_id, winner.execution_name)
    # AND a stray change for the same request reaches the lifecycle (written straight into the changes table, as
    # the pre-claim code let losers do)
    stray = winner.model_copy(update={"change_id": f"{frontend.request_id}.c9", "execution_name": "change-stray"})
    changes.save(stray)
    # WHEN its BeginChange runs, fails, and its Catch records the failure
    with pytest.raises(ChangeNotAllowed, match=f"held by {winner.change_id}"):
        begin_change(store, changes, stray.change_id, "change-stray")
    finish_change(store, changes, stray.change_id, error="ChangeNotAllowed: lost")
    # THEN the winner's record is untouched (not FAILED), only the stray change is FAILED
    assert store.require(frontend.request_id) == updating
    assert changes.require(stray.change_id).status == ChangeStatus.FAILED


def test_concurrent_resumes_start_one_attempt(
    frontend: RequestRecord, store: RequestStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vending.request import parse_request
    from vending.service import submit_request

    # GIVEN a FAILED request and the AccountVending machine
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName="vending-sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    sfn = boto3.client("stepfunctions", region_name=REGION)
    machine = sfn.create_state_machine(
        name="AccountVending", roleArn=role, definition='{"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}'
    )["stateMachineArn"]
    store.update(frontend.request_id, status=Status.FAILED, step="RecordFailed", failure_reason="boom")
    request = parse_request(frontend.request)
    # WHEN ten callers resume it at once
    answers = all_at_once(
        [lambda: submit_request(boto3.client("stepfunctions", region_name=REGION), store, machine, request)] * CALLERS
    )
    # THEN one attempt started, every other caller is told it is already running (that same execution)
    assert not [a for a in answers if isinstance(a, Exception)], answers
    assert Counter(a.outcome.value for a in answers) == {"resumed": 1, "already_running": CALLERS - 1}
    assert len(executions(machine)) == 1 and {a.execution_name for a in answers} == set(executions(machine))


@pytest.mark.parametrize("status", [Status.RETIRING, Status.SUSPENDED, Status.PENDING_CLOSURE, Status.CLOSED])
def test_a_retired_or_closing_account_refuses_changes_and_approvals(
    frontend: RequestRecord,
    store: RequestStore,
    changes: ChangeStore,
    layout: Layout,
    lifecycle_machine: str,
    status: Status,
) -> None:
    change = _awaiting(store, changes, layout, frontend.request_id, lifecycle_machine)
    before = store.update(frontend.request_id, status=status, step="Quarantine")
    with pytest.raises(ChangeNotAllowed, match=f"is {status.value}; a retiring or closed account cannot be changed"):
        _awaiting(store, changes, layout, frontend.request_id, lifecycle_machine)
    with pytest.raises(ChangeNotAllowed, match=f"is {status.value}"):
        _approve(store, changes, change.change_id, lifecycle_machine, "approver")
    assert store.require(frontend.request_id) == before
    assert changes.require(change.change_id).status == ChangeStatus.AWAITING_APPROVAL
    assert executions(lifecycle_machine) == []
