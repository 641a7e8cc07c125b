"""Classify botocore errors into our named errors."""

from __future__ import annotations

from botocore.exceptions import ClientError

from vending.exceptions import OrganizationsThrottled

THROTTLING_CODES = frozenset(
    {"TooManyRequestsException", "ConcurrentModificationException", "ThrottlingException", "Throttling"}
)


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def raise_if_throttled(error: ClientError, what: str) -> None:
    """Re-raise Organizations throttling as the retryable error the state machine backs off on."""
    if error_code(error) in THROTTLING_CODES:
        raise OrganizationsThrottled(f"{what}: {error_code(error)}") from error
