# ruff: noqa: F811  (the fixtures imported from test_changes are the parameters of these tests)
"""Day-2 executions stopped from outside (StopExecution, a timeout): an ABORTED execution skips the Catch that records
a failure, so the record would stay UPDATING or RETIRING under an execution that no longer runs. The chaos soak met
both (a change stopped after BeginChange, a retirement stopped after RetireAccount): `vend request resume` answered
"already running" and `vend account decommission` "being decommissioned already", for good."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from tests.vending.test_changes import REGION, changes, frontend, lifecycle_machine  # noqa: F401
from tests.vending.test_reonboarding import vending_machine  # noqa: F401 (a fixture)
from vending.changes import ChangeStatus, ChangeStore, begin_change, request_change, settle_resumed_change
from vending.decommission import start_decommission
from vending.exceptions import ChangeNotAllowed
from vending.layout import Layout
from vending.lifecycle import RequestRecord, RequestStore, Status
from vending.request import parse_request
from vending.service import submit_request
from vending.workflow import WorkflowSettings


def _stop(machine: str, name: str) -> None:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    arn = machine.replace(":stateMachine:", ":execution:") + f":{name}"
    sfn.stop_execution(executionArn=arn, error="Operator", cause="stopped from outside")
    assert sfn.describe_execution(executionArn=arn)["status"] == "ABORTED"


def test_a_change_stopped_while_it_ran_is_resumed_and_recorded_applied(
    frontend: RequestRecord,
    store: RequestStore,
    changes: ChangeStore,
    layout: Layout,
    lifecycle_machine: str,
    vending_machine: str,
) -> None:
    # GIVEN a staging change that began (the record is UPDATING under its execution), then was stopped
    sfn = boto3.client("stepfunctions", region_name=REGION)
    kwargs: dict[str, Any] = {"sfn": sfn, "state_machine_arn": lifecycle_machine, "settings": WorkflowSettings()}
    change = request_change(
        store, changes, layout, frontend.request_id, {"stacks": ["bootstrap", "networking"]}, by="alice", **kwargs
    )
    begin_change(store, changes, change.change_id, change.execution_name)
    _stop(lifecycle_machine, change.execution_name)
    # WHEN the operator resumes the request
    record = store.require(frontend.request_id)
    result = submit_request(sfn, store, vending_machine, parse_request(record.request))
    # THEN a vending attempt starts (not "already running" under the stopped change), and the record names the
    # change the resume converges to
    assert result.outcome.value == "resumed", result
    failed = store.require(frontend.request_id)
    assert failed.status == Status.FAILED and failed.failed_change == change.change_id and failed.open_change is None
    assert f"{change.execution_name} ended ABORTED" in (failed.failure_reason or "")
    # AND once that attempt reaches READY, the change is APPLIED by it
    ready = store.update(frontend.request_id, status=Status.READY, step="RecordReady", execution_name="vend-x-a2")
    settle_resumed_change(store, changes, ready, "vend-x-a2")
    assert changes.require(change.change_id).status == ChangeStatus.APPLIED
    assert store.require(frontend.request_id).failed_change is None


def _decommission(store: RequestStore, changes: ChangeStore, request_id: str, machine: str) -> str:
    name, _ = start_decommission(
        store,
        changes,
        request_id,
        sfn=boto3.client("stepfunctions", region_name=REGION),
        state_machine_arn=machine,
        settings=WorkflowSettings(),
    )
    return name


def test_a_retirement_stopped_while_it_ran_can_be_decommissioned_again(
    frontend: RequestRecord, store: RequestStore, changes: ChangeStore, lifecycle_machine: str
) -> None:
    # GIVEN a retirement running: a second decommission is refused
    first = _decommission(store, changes, frontend.request_id, lifecycle_machine)
    with pytest.raises(ChangeNotAllowed, match="being decommissioned already"):
        _decommission(store, changes, frontend.request_id, lifecycle_machine)
    # WHEN the retirement is stopped from outside (no failure recorded: the record stays RETIRING)
    _stop(lifecycle_machine, first)
    assert store.require(frontend.request_id).status == Status.RETIRING
    # THEN the decommission runs again, under the next attempt's name
    second = _decommission(store, changes, frontend.request_id, lifecycle_machine)
    assert (first, second) == (f"retire-{frontend.request_id}-g0-a1", f"retire-{frontend.request_id}-g0-a2")


def test_a_retirement_claimed_but_never_started_waits_out_the_grace(
    frontend: RequestRecord, store: RequestStore, changes: ChangeStore, lifecycle_machine: str
) -> None:
    # GIVEN a record claimed for a retirement whose claimer stopped before StartExecution (no execution exists)
    store.update(frontend.request_id, status=Status.RETIRING, step="Quarantine", execution_name="retire-x-g0-a1")
    # THEN right away it may still be starting: refused
    with pytest.raises(ChangeNotAllowed, match="being decommissioned already"):
        _decommission(store, changes, frontend.request_id, lifecycle_machine)
    # AND once the claim is older than the grace, it runs again
    record = store.require(frontend.request_id)
    old = (datetime.now(UTC) - timedelta(minutes=10)).isoformat()
    aged = record.model_copy(update={"updated_at": old, "version": record.version + 1})
    store._put(aged, condition="version = :seen", values={":seen": record.version})
    assert _decommission(store, changes, frontend.request_id, lifecycle_machine).endswith("-a2")


def test_a_change_stopped_before_it_began_releases_the_record_for_the_next_change(
    frontend: RequestRecord, store: RequestStore, changes: ChangeStore, layout: Layout, lifecycle_machine: str
) -> None:
    # GIVEN a change filed and started, its execution stopped before BeginChange (the record is READY, held by it)
    sfn = boto3.client("stepfunctions", region_name=REGION)
    kwargs: dict[str, Any] = {"sfn": sfn, "state_machine_arn": lifecycle_machine, "settings": WorkflowSettings()}
    stopped = request_change(
        store, changes, layout, frontend.request_id, {"stacks": ["bootstrap", "networking"]}, by="alice", **kwargs
    )
    _stop(lifecycle_machine, stopped.execution_name)
    assert store.require(frontend.request_id).open_change is not None
    # WHEN the next change is filed
    following = request_change(
        store, changes, layout, frontend.request_id, {"stacks": ["bootstrap", "eks"]}, by="alice", **kwargs
    )
    # THEN the stopped one is FAILED naming its end, and the new one holds the record
    failed = changes.require(stopped.change_id)
    assert failed.status == ChangeStatus.FAILED and "ended ABORTED" in (failed.failure_reason or "")
    assert following.status == ChangeStatus.RUNNING
    assert (store.require(frontend.request_id).open_change or {})["change_id"] == following.change_id


def test_a_running_change_is_never_released(
    frontend: RequestRecord, store: RequestStore, changes: ChangeStore, layout: Layout, lifecycle_machine: str
) -> None:
    # GIVEN a change whose execution runs
    sfn = boto3.client("stepfunctions", region_name=REGION)
    kwargs: dict[str, Any] = {"sfn": sfn, "state_machine_arn": lifecycle_machine, "settings": WorkflowSettings()}
    running = request_change(
        store, changes, layout, frontend.request_id, {"stacks": ["bootstrap", "networking"]}, by="alice", **kwargs
    )
    # THEN another change and a decommission are refused naming it, and it stays RUNNING
    with pytest.raises(ChangeNotAllowed, match=running.change_id):
        request_change(store, changes, layout, frontend.request_id, {"stacks": ["bootstrap"]}, by="alice", **kwargs)
    with pytest.raises(ChangeNotAllowed, match=running.change_id):
        _decommission(store, changes, frontend.request_id, lifecycle_machine)
    assert changes.require(running.change_id).status == ChangeStatus.RUNNING


def test_every_rerun_of_a_stopped_retirement_starts_a_new_attempt(
    frontend: RequestRecord, store: RequestStore, changes: ChangeStore, lifecycle_machine: str
) -> None:
    # GIVEN a retirement stopped, decommissioned again, and that attempt stopped too (the record stays RETIRING)
    names = [_decommission(store, changes, frontend.request_id, lifecycle_machine)]
    for _ in range(2):
        _stop(lifecycle_machine, names[-1])
        names.append(_decommission(store, changes, frontend.request_id, lifecycle_machine))
    # THEN each run is its own execution, never the name of one that ended (which StartExecution answers
    # ExecutionAlreadyExists, read as "already started": a retirement that never ran)
    assert names == [f"retire-{frontend.request_id}-g0-a{n}" for n in (1, 2, 3)]
    sfn = boto3.client("stepfunctions", region_name=REGION)
    statuses = {e["name"]: e["status"] for e in sfn.list_executions(stateMachineArn=lifecycle_machine)["executions"]}
    assert statuses == {names[0]: "ABORTED", names[1]: "ABORTED", names[2]: "RUNNING"}
