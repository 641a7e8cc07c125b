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
