"""Classify botocore errors into our named errors."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from vending.exceptions import AwsTransient, OrganizationsThrottled

F = TypeVar("F", bound=Callable[..., Any])
# Codes AWS answers for conditions that clear with time (after the SDK's own retries gave up).
TRANSIENT_CODES = frozenset(
    {
        "InternalFailure",
        "InternalError",
        "InternalServerError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "ServiceFailureException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "SlowDown",
        "RequestTimeout",
        "RequestTimeoutException",
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
    }
)
CONNECTION_ERRORS = (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, ConnectionClosedError)

THROTTLING_CODES = frozenset(
    {"TooManyRequestsException", "ConcurrentModificationException", "ThrottlingException", "Throttling"}
)


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def raise_if_throttled(error: ClientError, what: str) -> None:
    """Re-raise Organizations throttling as the retryable error the state machine backs off on."""
    if error_code(error) in THROTTLING_CODES:
        raise OrganizationsThrottled(f"{what}: {error_code(error)}") from error


def is_transient(error: ClientError) -> bool:
    """A condition that clears with time: throttling, a 5xx. A step must not turn it into a terminal error."""
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    return error_code(error) in TRANSIENT_CODES or status >= 500


def transient_as_retryable(handler: F) -> F:
    """A state machine step's handler: a transient AWS error becomes AwsTransient, which every Task retries with
    backoff (every step is safe to retry), instead of a terminal failure an operator has to resume."""

    @functools.wraps(handler)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return handler(*args, **kwargs)
        except ClientError as e:
            if is_transient(e):
                status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
                raise AwsTransient(f"{e.operation_name}: {error_code(e) or status}") from e
            raise
        except CONNECTION_ERRORS as e:
            raise AwsTransient(f"{type(e).__name__}: {e}") from e

    return wrapped  # type: ignore[return-value]
