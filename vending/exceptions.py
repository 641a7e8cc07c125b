"""Named errors. The state machine's Retry and Catch refer to these class names (errorType)."""


class VendingError(Exception):
    """Base of every error this service raises on purpose."""

    def __init__(self, message: str, *, details: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.details = details or []


class RetryableError(VendingError):
    """A condition that clears with time: the state machine retries it with backoff."""


class TerminalError(VendingError):
    """A condition that retrying will not fix: the request is recorded FAILED with the step and reason."""


# Retryable
class AccountCreationInProgress(RetryableError):
    """Organizations has not finished creating the account yet."""


class OrganizationsThrottled(RetryableError):
    """TooManyRequestsException, ConcurrentModificationException or the 5-in-flight creation limit."""


class ConcurrentUpdate(RetryableError):
    """The request record changed under a step several times in a row."""


class AccessRoleNotReady(RetryableError):
    """The new account's access role cannot be assumed yet: right after CreateAccount, IAM can take a while."""


# Terminal
class InvalidRequest(TerminalError):
    """The request failed validation; nothing was created."""


class RequestTooLarge(InvalidRequest):
    """The request body is over the size limit; it was not parsed."""


class ReservationConflict(TerminalError):
    """Another execution owns this team and stage right now."""


class AccountCreationFailed(TerminalError):
    """Organizations reported FAILED for the CreateAccount request."""


class AccountCreationTimedOut(TerminalError):
    """The account did not become ACTIVE within the polling cap."""


class OuNotFound(TerminalError):
    """The OU path could not be resolved or created."""


class GuardrailLimitExceeded(TerminalError):
    """The rendered SCPs would exceed a size or per-target quota."""


class BootstrapFailed(TerminalError):
    """The state bucket or CI role could not be put in place in the new account."""


class PipelineFailed(TerminalError):
    """A Terraform pipeline ended in failure."""


class TerraformUnavailable(TerminalError):
    """The Terraform CLI or its provider mirror is not available to the pipeline runner."""


class RequestNotFound(TerminalError):
    """No vending request with that id exists."""


RETRYABLE_ERROR_NAMES = tuple(cls.__name__ for cls in RetryableError.__subclasses__())
