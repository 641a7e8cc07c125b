"""Submitting and reading requests: what the API, the event entry point and the CLI share."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError
from pydantic import BaseModel

from vending.aws.errors import error_code
from vending.exceptions import AttemptNamesExhausted, ExecutionNotVisible, NotConfigured, ReservationConflict
from vending.lifecycle import AWAITING_CLOSURE, IN_FLIGHT, VENDING, RequestRecord, RequestStore, Status
from vending.request import VendingRequest, execution_name
from vending.workflow import LIFECYCLE_STATE_MACHINE_NAME, WorkflowSettings, execution_input

logger = Logger(child=True)


class Outcome(StrEnum):
    STARTED = "started"
    RESUMED = "resumed"
    ALREADY_RUNNING = "already_running"
    ALREADY_READY = "already_ready"


class SubmitResult(BaseModel):
    request_id: str
    outcome: Outcome
    execution_name: str
    execution_arn: str | None = None
    status: str
    account_id: str | None = None


def settings_from_env() -> WorkflowSettings:
    """Operators (and the local emulator) shorten the polling cadence through VEND_WORKFLOW_SETTINGS."""
    raw = os.environ.get("VEND_WORKFLOW_SETTINGS")
    return WorkflowSettings.model_validate(json.loads(raw)) if raw else WorkflowSettings()


# (execution name, input JSON) -> True when this call started the execution, False when another caller with the
# same name got there first (the caller then reports that execution as already running).
StartExecution = Callable[[str, str], bool]
MAX_NAME_PROBES = 20
# How long a caller that lost the race waits for the winner's execution to appear before it answers.
JOIN_WAIT_SECONDS = 10.0
JOIN_POLL_SECONDS = 0.2


def submit_request(
    sfn: Any,
    store: RequestStore,
    state_machine_arn: str,
    request: VendingRequest,
    *,
    start: StartExecution | None = None,
) -> SubmitResult:
    """Start (or find) the execution for this team+stage. The same request twice is the same request:
    a READY or running one is reported, a FAILED one is resumed by a new attempt. Concurrent identical
    submissions get one answer: the caller that started the execution is told `started`, every other one
    `already_running` with that execution (never "retry later").
    `start` lets the API wrap the one side effect in powertools idempotency."""
    if not state_machine_arn:
        raise NotConfigured("no state machine configured (VEND_STATE_MACHINE_ARN) or found by name")
    record = store.get(request.request_id)
    if record and record.status in AWAITING_CLOSURE:
        raise ReservationConflict(
            f"{request.request_id}: account {record.account_id} is {record.status.value}, decommissioned by execution "
            f"{record.execution_name} and queued for closure; nothing was started. Re-onboard it once its closure is "
            "requested (`vend account closures --drain`): the team then gets a new account"
        )
    if record and record.status in IN_FLIGHT:
        ended = _ended_status(sfn, owner_machine_arn(record, state_machine_arn), record.execution_name)
        if ended:
            # Aborted or timed out executions skip the Catch: record it, so the request never stalls silently. A
            # change stopped while it ran fails as FinishChange would have failed it: the record keeps its intent,
            # and the resume that converges the account records the change APPLIED (vending.changes).
            logger.info("in-flight record of an ended execution", extra={"execution": record.execution_name})
            stopped_change = (record.open_change or {}).get("change_id") if record.status == Status.UPDATING else None
            record = store.update(
                request.request_id,
                status=Status.FAILED,
                step="Submit",
                failed_step=record.step,
                failure_reason=f"execution {record.execution_name} ended {ended} without a result",
                **({"failed_change": stopped_change, "open_change": None} if stopped_change else {}),
            )
    if record and record.status == Status.READY:
        return _report(record, Outcome.ALREADY_READY, state_machine_arn)
    if record and record.status in IN_FLIGHT:
        return _report(record, Outcome.ALREADY_RUNNING, state_machine_arn)
    first = record.attempts + 1 if record else 1
    # Each submission's input carries its own id: StartExecution with the same name and the same input succeeds
    # again while that execution runs (it is idempotent), so identical inputs would tell two callers "started".
    submission = uuid.uuid4().hex
    payload_for = lambda name: json.dumps(  # noqa: E731
        {**execution_input(request, name, settings_from_env()), "submission": submission}
    )
    starter = start or _plain_start(sfn, state_machine_arn)
    for attempt in range(first, first + MAX_NAME_PROBES):
        name = execution_name(request.request_id, attempt)
        arn = _execution_arn(state_machine_arn, name)
        try:
            started = starter(name, payload_for(name))
        except ClientError as e:
            if error_code(e) != "ExecutionAlreadyExists":
                raise
            started = False
        if not started:
            status = _join(sfn, arn)
            if status == "RUNNING":
                logger.info("execution already started by another caller", extra={"execution": name})
                return SubmitResult(
                    request_id=request.request_id,
                    outcome=Outcome.ALREADY_RUNNING,
                    execution_name=name,
                    execution_arn=arn,
                    status=status,
                    account_id=record.account_id if record else None,
                )
            # That attempt ended before Reserve recorded anything (rejected, aborted): its name stays taken for
            # 90 days, so move on to the next attempt's name.
            logger.info("attempt name taken by an ended execution", extra={"execution": name, "status": status})
            continue
        outcome = Outcome.RESUMED if record else Outcome.STARTED
        logger.info("execution started", extra={"execution": name, "outcome": outcome})
        return SubmitResult(
            request_id=request.request_id,
            outcome=outcome,
            execution_name=name,
            execution_arn=arn,
            status=Status.PENDING.value,
            account_id=record.account_id if record else None,
        )
    raise AttemptNamesExhausted(
        f"{request.request_id}: {MAX_NAME_PROBES} attempt names in a row are taken by ended executions"
    )


def _plain_start(sfn: Any, state_machine_arn: str) -> StartExecution:
    def start(name: str, payload: str) -> bool:
        sfn.start_execution(stateMachineArn=state_machine_arn, name=name, input=payload)
        return True

    return start


def _join(sfn: Any, arn: str) -> str:
    """The status of the execution another caller is starting: it may not exist for a moment (that caller holds the
    name but has not called StartExecution yet), so wait briefly for it instead of answering "retry"."""
    deadline = time.monotonic() + JOIN_WAIT_SECONDS
    while True:
        try:
            return str(sfn.describe_execution(executionArn=arn)["status"])
        except ClientError as e:
            if error_code(e) != "ExecutionDoesNotExist":
                raise
            if time.monotonic() > deadline:
                raise ExecutionNotVisible(
                    f"{arn} is being started by another caller but did not appear within {JOIN_WAIT_SECONDS:.0f} s"
                ) from e
        time.sleep(JOIN_POLL_SECONDS)


def _ended_status(sfn: Any, state_machine_arn: str, name: str) -> str | None:
    """The final status of the execution that owns a record, or None while it runs (or cannot be found)."""
    if not name:
        return None
    try:
        status = str(sfn.describe_execution(executionArn=_execution_arn(state_machine_arn, name))["status"])
    except ClientError as e:
        if error_code(e) in {"ExecutionDoesNotExist", "InvalidArn"}:
            return None
        raise
    return None if status == "RUNNING" else status


def owner_machine_arn(record: RequestRecord, vending_arn: str) -> str:
    """The state machine whose execution owns the record: a vend's, or (UPDATING, RETIRING, SUSPENDED) the
    AccountLifecycle machine beside it (both are named by the stack, in the same account and region)."""
    if record.status in VENDING:
        return vending_arn
    return vending_arn.rpartition(":")[0] + ":" + LIFECYCLE_STATE_MACHINE_NAME


def _execution_arn(state_machine_arn: str, name: str) -> str:
    return state_machine_arn.replace(":stateMachine:", ":execution:") + f":{name}"


def _report(record: RequestRecord, outcome: Outcome, state_machine_arn: str) -> SubmitResult:
    return SubmitResult(
        request_id=record.request_id,
        outcome=outcome,
        execution_name=record.execution_name,
        execution_arn=_execution_arn(state_machine_arn, record.execution_name),
        status=record.status.value,
        account_id=record.account_id,
    )


def find_state_machine_arn(sfn: Any, name: str = "AccountVending") -> str:
    for page in sfn.get_paginator("list_state_machines").paginate():
        for machine in page["stateMachines"]:
            if machine["name"] == name:
                return str(machine["stateMachineArn"])
    return ""
