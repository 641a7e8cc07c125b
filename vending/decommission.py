"""Starting a decommission (`vend account decommission`, POST /requests/<id>/decommission): the caller's one
conditional write on the request record (READY or FAILED, or a retirement that stopped -> RETIRING under this
execution) decides it against a concurrent decommission, a change being filed or a vend, before any execution starts.
A change still awaiting approval is cancelled first by the same conditional write an approval makes, so of an
approval and a decommission exactly one wins (vending.changes.cancel_open_change).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from vending.aws.errors import error_code
from vending.changes import CLAIM_ATTEMPTS, ChangeStore, cancel_open_change, lifecycle_input, release_stopped_change
from vending.exceptions import ChangeNotAllowed, ConcurrentUpdate, NotConfigured
from vending.lifecycle import RequestRecord, RequestStore, Status
from vending.request import check_request_id, parse_request
from vending.retirement import RETIRABLE
from vending.workflow import WorkflowSettings

# Re-run from the top once the retirement recorded a failure, or its execution ended without recording one.
STOPPABLE = frozenset({Status.RETIRING, Status.SUSPENDED})


# A retirement claimed this long ago whose execution is nowhere to be found never started (its caller stopped between
# the claim and StartExecution): it may be run again. Younger, the claimer may still be starting it.
STARTING_GRACE_SECONDS = 120.0


def retirement_ended(sfn: Any, state_machine_arn: str, record: RequestRecord) -> str | None:
    """How the execution that holds a RETIRING/SUSPENDED record ended, or None while it runs (or may be starting).
    A stopped (ABORTED) or timed-out execution skips the Catch that records a failure: without this the record would
    say "being decommissioned already" for good."""
    arn = state_machine_arn.replace(":stateMachine:", ":execution:") + f":{record.execution_name}"
    try:
        status = str(sfn.describe_execution(executionArn=arn)["status"])
    except ClientError as e:
        if error_code(e) not in {"ExecutionDoesNotExist", "InvalidArn"}:
            raise
        age = (datetime.now(UTC) - datetime.fromisoformat(record.updated_at)).total_seconds()
        return "NEVER_STARTED" if age > STARTING_GRACE_SECONDS else None
    return None if status == "RUNNING" else status


def check_decommissionable(record: RequestRecord, ended: str | None = None) -> None:
    if not record.account_id:
        raise ChangeNotAllowed(
            f"request: {record.request_id} is {record.status.value} without an account; nothing to decommission"
        )
    if record.status in RETIRABLE:
        return
    if record.status in STOPPABLE and (record.failure_reason or ended):
        return
    if record.status in STOPPABLE:
        raise ChangeNotAllowed(
            f"request: {record.request_id} is {record.status.value} under execution {record.execution_name}; it is "
            "being decommissioned already"
        )
    owner = f" under execution {record.execution_name}" if record.execution_name else ""
    raise ChangeNotAllowed(f"request: {record.request_id} is {record.status.value}{owner}; nothing to decommission")


def check_decommission(record: RequestRecord, *, sfn: Any, state_machine_arn: str) -> None:
    """check_decommissionable, asking Step Functions whether a retirement that recorded no failure still runs."""
    stopped = record.status in STOPPABLE and not record.failure_reason and record.account_id
    check_decommissionable(record, retirement_ended(sfn, state_machine_arn, record) if stopped else None)


def execution_name(record: RequestRecord) -> str:
    attempt = sum(1 for t in record.history if t.step == "Quarantine" and t.status == Status.RETIRING) + 1
    return f"retire-{record.request_id}-g{record.generation}-a{attempt}"[:80]


def start_decommission(
    store: RequestStore,
    changes: ChangeStore,
    request_id: str,
    *,
    sfn: Any,
    state_machine_arn: str,
    settings: WorkflowSettings,
    destroy_stacks: bool = False,
) -> tuple[str, RequestRecord]:
    """Claim the record for a retirement execution and start it; every racing caller but one is refused."""
    check_request_id(request_id)
    if not state_machine_arn:
        raise NotConfigured("no lifecycle state machine configured (VEND_LIFECYCLE_STATE_MACHINE_ARN)")
    for _ in range(CLAIM_ATTEMPTS):
        record = release_stopped_change(
            store, changes, store.require(request_id), sfn=sfn, state_machine_arn=state_machine_arn
        )
        check_decommission(record, sfn=sfn, state_machine_arn=state_machine_arn)
        cancel_open_change(changes, record, why=f"cancelled: {request_id} is being decommissioned")
        name = execution_name(record)
        claimed = store.claim(
            record,
            step="Quarantine",
            status=Status.RETIRING,
            execution_name=name,
            failed_step=None,
            failure_reason=None,
            open_change=None,
        )
        if claimed is None:
            continue  # decided again on what won: refused, or a new version to claim
        request = parse_request(claimed.request)
        payload = lifecycle_input(
            "decommission",
            request,
            execution=name,
            settings=settings,
            # Every stack of the team, destroyed through the pipeline before the account is suspended.
            destroy_stacks=list(request.stacks) if destroy_stacks else [],
        )
        try:
            sfn.start_execution(stateMachineArn=state_machine_arn, name=name, input=json.dumps(payload))
        except ClientError as e:
            if error_code(e) != "ExecutionAlreadyExists":
                # Not started: say so on the record, so the decommission can be run again.
                store.update(
                    request_id, step="Quarantine", failed_step="Quarantine", failure_reason=f"not started: {e}"
                )
                raise
        return name, claimed
    raise ConcurrentUpdate(f"{request_id}: the record kept changing; nothing was started, retry")
