"""StartExecution names an execution once however many callers race (landing_zone/local/execution_names.py), on both
of moto's Step Functions backends: the plain one mock_aws tests use and the interpreter the emulator runs."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from landing_zone.local.execution_names import execution_names_unique

CALLERS = 12


@pytest.fixture(params=[False, True], ids=["plain", "interpreter"])
def machine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, str]]:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws(config={"stepfunctions": {"execute_state_machine": request.param}}):
        client = boto3.client("stepfunctions")
        arn = client.create_state_machine(
            name="sm",
            definition=json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}),
            roleArn="arn:aws:iam::123456789012:role/sm",
        )["stateMachineArn"]
        yield client, arn


@pytest.fixture
def slow_look(monkeypatch: pytest.MonkeyPatch) -> None:
    """Widen moto's window between looking for the name and appending the execution, so a race that AWS's atomic
    naming rules out happens on every run instead of one in a thousand."""
    from moto.stepfunctions.models import StateMachine

    look = StateMachine._handle_name_input_idempotency

    def slow(self: Any, name: str, execution_input: str) -> Any:
        found = look(self, name, execution_input)
        time.sleep(0.05)
        return found

    monkeypatch.setattr(StateMachine, "_handle_name_input_idempotency", slow)


def _race(client: Any, arn: str) -> tuple[list[str], list[Any]]:
    """CALLERS identical StartExecution calls at one moment; the executions that exist after, and every answer."""
    barrier = threading.Barrier(CALLERS)
    answers: list[Any] = [None] * CALLERS

    def start(i: int) -> None:
        barrier.wait()
        try:
            answers[i] = client.start_execution(stateMachineArn=arn, name="one-name", input='{"a": 1}')["executionArn"]
        except ClientError as e:
            answers[i] = e.response["Error"]["Code"]

    threads = [threading.Thread(target=start, args=(i,)) for i in range(CALLERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return [e["executionArn"] for e in client.list_executions(stateMachineArn=arn)["executions"]], answers


@pytest.mark.usefixtures("slow_look")
def test_racing_starts_with_one_name_make_one_execution(machine: tuple[Any, str]) -> None:
    client, arn = machine
    with execution_names_unique():
        executions, answers = _race(client, arn)
    # THEN one execution; every caller got it, or (the interpreter finished it at once) ExecutionAlreadyExists
    assert len(executions) == 1, executions
    assert set(answers) <= {executions[0], "ExecutionAlreadyExists"} and executions[0] in answers, answers


@pytest.mark.usefixtures("slow_look")
def test_control_moto_alone_starts_the_name_more_than_once(machine: tuple[Any, str]) -> None:
    # Negative control: without the patch the same race makes duplicates, so the test above measures the patch
    client, arn = machine
    executions, _ = _race(client, arn)
    assert len(executions) > 1, executions


def test_the_patch_is_gone_on_exit() -> None:
    from moto.stepfunctions.models import StepFunctionBackend
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    before = (StepFunctionBackend.start_execution, StepFunctionsParserBackend.start_execution)
    with execution_names_unique():
        assert StepFunctionBackend.start_execution is not before[0]
        assert StepFunctionsParserBackend.start_execution is not before[1]
    assert (StepFunctionBackend.start_execution, StepFunctionsParserBackend.start_execution) == before
