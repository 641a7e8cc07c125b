"""vending.service.submit_request: start, report or resume the one execution of a team and stage."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from vending.exceptions import NotConfigured
from vending.lifecycle import RequestStore, Status
from vending.request import VendingRequest
from vending.service import find_state_machine_arn, settings_from_env, submit_request


@pytest.fixture
def sfn(state_machine: str) -> Any:
    return boto3.client("stepfunctions", region_name="us-east-1")


def _executions(sfn: Any, arn: str) -> list[str]:
    return [e["name"] for e in sfn.list_executions(stateMachineArn=arn)["executions"]]


def test_submit_request_first_starts_attempt_1(
    sfn: Any, state_machine: str, store: RequestStore, request_: VendingRequest
) -> None:
    # GIVEN no record for the team and stage
    # WHEN the request is submitted
    result = submit_request(sfn, store, state_machine, request_)
    # THEN execution vend-<id>-a1 is started with the request, the execution name and the settings
    assert result.outcome == "started"
    assert result.execution_name == "vend-team-mlops-staging-a1"
    assert result.status == "PENDING"
    assert _executions(sfn, state_machine) == ["vend-team-mlops-staging-a1"]
    described = sfn.describe_execution(executionArn=result.execution_arn)
    document = json.loads(described["input"])
    assert document["request"] == request_.model_dump(mode="json")
    assert document["execution"] == "vend-team-mlops-staging-a1"
    assert document["settings"]["account_poll_max"] == 60


def test_submit_request_ready_is_reported_without_starting(
    sfn: Any, state_machine: str, store: RequestStore, request_: VendingRequest
) -> None:
    # GIVEN a READY request
    store.reserve(request_, "vend-team-mlops-staging-a1")
    store.update(request_.request_id, status=Status.READY, step="RecordReady", account_id="111122223333")
    # WHEN it is submitted again, with every Step Functions call forbidden
    with Stubber(sfn) as stub:
        result = submit_request(sfn, store, state_machine, request_)
        stub.assert_no_pending_responses()
    # THEN it is reported as already ready with its account
    assert (result.outcome, result.status, result.account_id) == ("already_ready", "READY", "111122223333")
    assert result.execution_name == "vend-team-mlops-staging-a1"
    assert _executions(sfn, state_machine) == []


def test_submit_request_in_flight_is_already_running(
    sfn: Any, state_machine: str, store: RequestStore, request_: VendingRequest
) -> None:
    # GIVEN a request being bootstrapped
    store.reserve(request_, "vend-team-mlops-staging-a1")
    store.update(request_.request_id, status=Status.BOOTSTRAPPING, step="Bootstrap")
    # WHEN it is submitted again
    result = submit_request(sfn, store, state_machine, request_)
    # THEN the running execution is reported and nothing new starts
    assert (result.outcome, result.status) == ("already_running", "BOOTSTRAPPING")
    assert (
        result.execution_arn == state_machine.replace(":stateMachine:", ":execution:") + ":vend-team-mlops-staging-a1"
    )
    assert _executions(sfn, state_machine) == []


def test_submit_request_failed_is_resumed_as_attempt_2(
    sfn: Any, state_machine: str, store: RequestStore, request_: VendingRequest
) -> None:
    # GIVEN a request that failed after its account was created
    store.reserve(request_, "vend-team-mlops-staging-a1")
    store.update(request_.request_id, status=Status.FAILED, step="RecordFailed", account_id="111122223333")
    # WHEN it is submitted again
    result = submit_request(sfn, store, state_machine, request_)
    # THEN attempt 2 starts, reporting the account already known
    assert (result.outcome, result.execution_name) == ("resumed", "vend-team-mlops-staging-a2")
    assert result.account_id == "111122223333"
    assert _executions(sfn, state_machine) == ["vend-team-mlops-staging-a2"]


def test_submit_request_execution_already_exists_is_running(
    sfn: Any, state_machine: str, store: RequestStore, request_: VendingRequest
) -> None:
    # GIVEN an execution of that name already started (a racing submission) but not yet reserved
    arn = state_machine.replace(":stateMachine:", ":execution:") + ":vend-team-mlops-staging-a1"
    with Stubber(sfn) as stub:
        stub.add_client_error(
            "start_execution",
            service_error_code="ExecutionAlreadyExists",
            expected_params={"stateMachineArn": state_machine, "name": "vend-team-mlops-staging-a1", "input": ANY},
        )
        stub.add_response(
            "describe_execution",
            {
                "executionArn": arn,
                "stateMachineArn": state_machine,
                "status": "RUNNING",
                "startDate": "2025-03-14T09:26:53Z",
            },
            {"executionArn": arn},
        )
        # WHEN the request is submitted
        result = submit_request(sfn, store, state_machine, request_)
    # THEN it is reported as already running
    assert (result.outcome, result.execution_arn, result.status) == ("already_running", arn, "RUNNING")


def test_submit_request_finished_execution_without_record_is_not_running(
    sfn: Any, state_machine: str, store: RequestStore, request_: VendingRequest
) -> None:
    # GIVEN execution a1 that FAILED before Reserve wrote a record (so attempts cannot move past 1)
    arn = state_machine.replace(":stateMachine:", ":execution:") + ":vend-team-mlops-staging-a1"
    with Stubber(sfn) as stub:
        stub.add_client_error("start_execution", service_error_code="ExecutionAlreadyExists")
        stub.add_response(
            "describe_execution",
            {
                "executionArn": arn,
                "stateMachineArn": state_machine,
                "status": "FAILED",
                "startDate": "2025-03-14T09:26:53Z",
            },
        )
        stub.add_response("start_execution", {"executionArn": arn[:-1] + "2", "startDate": "2025-03-14T09:30:00Z"})
        # WHEN the request is submitted again
        result = submit_request(sfn, store, state_machine, request_)
    # THEN it is not reported as running: a new attempt is started (or the caller is told it failed)
    assert result.outcome != "already_running"


def test_submit_request_other_start_error_propagates(
    sfn: Any, state_machine: str, store: RequestStore, request_: VendingRequest
) -> None:
    # GIVEN Step Functions throttling StartExecution
    with Stubber(sfn) as stub:
        stub.add_client_error("start_execution", service_error_code="ThrottlingException")
        # WHEN the request is submitted
        # THEN the error surfaces (the SQS record is retried)
        with pytest.raises(Exception, match="ThrottlingException"):
            submit_request(sfn, store, state_machine, request_)


def test_submit_request_without_state_machine_fails(store: RequestStore, request_: VendingRequest) -> None:
    # GIVEN no state machine configured
    # WHEN a request is submitted
    # THEN it fails naming the setting
    with pytest.raises(NotConfigured, match="VEND_STATE_MACHINE_ARN"):
        submit_request(object(), store, "", request_)


def test_settings_from_env_overrides_cadence(
    monkeypatch: pytest.MonkeyPatch,
    sfn: Any,
    state_machine: str,
    store: RequestStore,
    make_request: Callable[..., VendingRequest],
) -> None:
    # GIVEN an operator shortening the polling cadence
    monkeypatch.setenv("VEND_WORKFLOW_SETTINGS", json.dumps({"account_poll_seconds": 1, "account_poll_max": 5}))
    # WHEN a request is submitted
    result = submit_request(sfn, store, state_machine, make_request())
    # THEN the execution carries the shortened cadence, defaults elsewhere
    settings = json.loads(sfn.describe_execution(executionArn=result.execution_arn)["input"])["settings"]
    assert settings == {**settings_from_env().model_dump(), "account_poll_seconds": 1, "account_poll_max": 5}
    assert settings["pipeline_poll_max"] == 240


def test_find_state_machine_arn(sfn: Any, state_machine: str) -> None:
    # GIVEN the AccountVending state machine
    # WHEN it is looked up by name
    # THEN its ARN is found; an unknown name gives ""
    assert find_state_machine_arn(sfn) == state_machine
    assert find_state_machine_arn(sfn, "Nope") == ""
