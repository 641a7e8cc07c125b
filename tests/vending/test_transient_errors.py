"""Transient AWS errors that outlast the SDK's retries are retried by the state machine, not recorded as FAILED
(found by benchmarks/chaos_soak.py: InternalFailure, ServiceUnavailable, throttling and connection errors in
ApplyGuardrails, PlaceInOu, CheckAccountStatus and Bootstrap each needed an operator's resume)."""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import pytest
from botocore.exceptions import ClientError, ConnectTimeoutError

from vending.aws.errors import transient_as_retryable
from vending.exceptions import RETRYABLE_ERROR_NAMES, AwsTransient
from vending.functions import FUNCTIONS, LIFECYCLE_KEYS, STATE_MACHINE_KEYS


def _client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "x"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "MoveAccount"
    )


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (_client_error("ServiceUnavailable", 503), True),
        (_client_error("InternalFailure", 500), True),
        (_client_error("ProvisionedThroughputExceededException", 400), True),
        (_client_error("SomethingNew", 502), True),
        (ConnectTimeoutError(endpoint_url="https://organizations.us-east-1.amazonaws.com"), True),
        (_client_error("AccessDeniedException", 403), False),
        (_client_error("ValidationException", 400), False),
    ],
)
def test_transient_as_retryable_names_exactly_the_transient_errors(error: Exception, transient: bool) -> None:
    # GIVEN a step that fails with an AWS error, WHEN it is wrapped
    @transient_as_retryable
    def step(_: Any, __: Any) -> None:
        raise error

    # THEN a transient error becomes AwsTransient (retried by every Task), any other stays what it was
    with pytest.raises(AwsTransient if transient else type(error)):
        step({}, None)
    assert "AwsTransient" in RETRYABLE_ERROR_NAMES


def test_every_state_machine_step_handler_is_wrapped() -> None:
    # GIVEN every function a state machine calls, THEN its handler carries the decorator (read from the source:
    # powertools' decorators do not expose what they wrap)
    steps = set(STATE_MACHINE_KEYS) | set(LIFECYCLE_KEYS)
    for spec in (f for f in FUNCTIONS if f.key in steps):
        module_name, _, name = spec.handler.rpartition(".")
        source = inspect.getsource(importlib.import_module(module_name))
        assert f"@transient_as_retryable\ndef {name}(" in source, spec.key


@pytest.mark.parametrize(("code", "status"), [("Throttling", 400), ("ServiceUnavailable", 503)])
def test_chaos_soak_seed_1_bootstrap_transient_error_is_not_a_bootstrap_failure(code: str, status: int) -> None:
    # GIVEN (chaos_soak --teams 10 --fault-rate 0.1 --seed 1: IAM GetRole Throttling outlasted the SDK's retries and
    # was recorded as BootstrapFailed, a terminal error that needed a resume) IAM failing transiently in bootstrap
    from vending import bootstrap

    class Flaky:
        def __getattr__(self, _: str) -> Any:
            def call(**__: Any) -> Any:
                raise ClientError(
                    {"Error": {"Code": code, "Message": "x"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "GetRole"
                )

            return call

    class Session:
        def client(self, *_: Any, **__: Any) -> Flaky:
            return Flaky()

    @transient_as_retryable
    def step(_: Any, __: Any) -> None:
        bootstrap.bootstrap_account(
            Session(),  # type: ignore[arg-type]
            account_id="111122223333",
            region="us-east-1",
            repository="o/r",
            stage="staging",
            team="t",
        )

    # WHEN the step runs, THEN the error is AwsTransient (retried by the Task), not BootstrapFailed; a refusal stays one
    with pytest.raises(AwsTransient):
        step({}, None)


def test_chaos_soak_seed_1_bootstrap_refusal_is_still_a_bootstrap_failure() -> None:
    from vending import bootstrap
    from vending.exceptions import BootstrapFailed

    class Refusing:
        def __getattr__(self, _: str) -> Any:
            def call(**__: Any) -> Any:
                raise _client_error("AccessDenied", 403)

            return call

    class Session:
        def client(self, *_: Any, **__: Any) -> Refusing:
            return Refusing()

    with pytest.raises(BootstrapFailed, match="AccessDenied"):
        bootstrap.bootstrap_account(
            Session(),  # type: ignore[arg-type]
            account_id="111122223333",
            region="us-east-1",
            repository="o/r",
            stage="staging",
            team="t",
        )


def test_check_account_creation_5xx_is_not_a_failed_creation() -> None:
    # GIVEN DescribeCreateAccountStatus answering 503 past the SDK's retries
    from vending.accounts import AccountProgress, check_account_creation

    class Org:
        def describe_create_account_status(self, **_: Any) -> Any:
            raise _client_error("ServiceUnavailable", 503)

    progress = AccountProgress.model_validate({"create_account_request_id": "car-1", "state": "IN_PROGRESS"})

    @transient_as_retryable
    def step(_: Any, __: Any) -> None:
        check_account_creation(Org(), None, None, progress, max_polls=3)  # type: ignore[arg-type]

    # THEN the step retries it (AwsTransient), it does not record the creation FAILED
    with pytest.raises(AwsTransient):
        step({}, None)
