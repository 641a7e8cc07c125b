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


class AwsTransient(RetryableError):
    """An AWS call still failed with a 5xx, throttling or connection error after the SDK's own retries."""


class EventPublishFailed(RetryableError):
    """EventBridge did not accept an event (PutEvents answered with a failed entry)."""


# Terminal
class InvalidRequest(TerminalError):
    """The request failed validation; nothing was created."""


class RequestTooLarge(InvalidRequest):
    """The request body is over the size limit; it was not parsed."""


class StackUnresolvable(TerminalError):
    """A requested stack has neither a committed folder nor a template the platform can render."""


class ExecutionNotVisible(TerminalError):
    """Another caller holds this execution's name, but the execution did not appear in time."""


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


class NotConfigured(TerminalError):
    """The deployment lacks a setting this call needs (for example the state machine ARN)."""


class GitHubSetupFailed(TerminalError):
    """GitHub refused a call of the repository set up (vending.github_setup), or the App is not installed."""


class AttemptNamesExhausted(TerminalError):
    """Too many attempt names in a row are taken by ended executions."""


class InvalidWorkflowState(TerminalError):
    """The execution state lacks what this step needs: the state machine and the handler disagree."""


class RemediationNotAllowed(TerminalError):
    """The scheduled audit is read-only; remediation is an operator's call."""


class TemplateError(TerminalError):
    """A stack cannot be rendered: unknown template, a GPU tier it does not serve, or no network block."""


class StackNotFound(TerminalError):
    """A requested Terraform stack has no committed folder and no template to render it from."""


class InvalidPipelineSpec(TerminalError):
    """A pipeline run's variables or stages contradict its stack."""


class ApprovalNotFound(PipelineFailed):
    """A production apply has no recorded approval for this plan's digest."""


class UnsupportedCondition(TerminalError):
    """The SCP evaluator was asked about a condition it does not implement, so it cannot answer honestly."""


class PolicyEngineUnavailable(TerminalError):
    """The policy engine could not run: the policy stage fails closed."""


class InvalidWaivers(PolicyEngineUnavailable):
    """The platform's waiver file is malformed: the policy stage cannot tell what is waived, so it fails."""


class MalformedRuleOutput(PolicyEngineUnavailable):
    """A Rego rule answered something that is not a set of violations: the rule, not the plan, is at fault."""


class CheckovScanTimedOut(PolicyEngineUnavailable):
    """A checkov scan ran past its time and was killed: the policy stage fails closed."""


class CheckovServerUnavailable(PolicyEngineUnavailable):
    """The checkov fork server did not start, or stopped before a scan's answer: the scan did not run."""


class ChangeNotAllowed(TerminalError):
    """The request cannot be changed or retired in its current state (FAILED, retiring, closed, mid-vend)."""


class SelfApproval(ChangeNotAllowed):
    """The approver is the principal that asked for the change: someone else must approve it."""


class IdentityMismatch(InvalidRequest):
    """A body field or flag names someone other than the signed caller; identities come from the signature."""


class NotSigned(TerminalError):
    """The caller's signed identity is missing or is not an IAM principal, so who acts cannot be recorded."""


class NotPermitted(TerminalError):
    """The signed caller may not see or act on this team's requests (not a platform principal, not its lead)."""


class ApiRefused(TerminalError):
    """The API answered a portal page's call with an error (status and body kept: the page shows them)."""

    def __init__(self, status: int, body: dict[str, object]) -> None:
        super().__init__(str(body.get("message", "")))
        self.status, self.body = status, body


class ChangeNotFound(TerminalError):
    """No change request with that id exists, or none waits for an approval."""


class AccountClosureFailed(TerminalError):
    """Organizations refused CloseAccount for a reason that waiting will not clear."""


class QuotaRequestFailed(TerminalError):
    """Service Quotas refused to read or raise a quota the tier needs (unknown quota, access denied, too many open
    requests)."""


def _leaves(base: type[VendingError]) -> tuple[str, ...]:
    found: list[str] = []
    for cls in base.__subclasses__():
        found.append(cls.__name__)
        found.extend(_leaves(cls))
    return tuple(sorted(set(found)))


# The state machine's Retry lists name exactly these (tests/vending/test_exceptions.py checks the ASL).
RETRYABLE_ERROR_NAMES = _leaves(RetryableError)
TERMINAL_ERROR_NAMES = _leaves(TerminalError)


class DriftCheckFailed(TerminalError):
    """A stack's plan-only drift check could not run or finish (vending.pipeline.drift): reported drift_unchecked."""


class ThawNotFound(TerminalError):
    """No freeze stands on that request or account, or no thaw of it is filed (vending.spend.fence)."""


class FenceIncomplete(RetryableError):
    """Some accounts over their spend caps could not be fenced this interval (each named); the others were, and the
    next interval retries (vending.spend.fence)."""

    def __init__(self, message: str, *, report: object = None) -> None:
        super().__init__(message)
        self.report = report


class PriceListUnavailable(TerminalError):
    """The price snapshot cannot be read, or the Price List answered nothing usable for a type or model: a refresh
    leaves the snapshot as it was (vending.spend.prices)."""


class UsageEventInvalid(TerminalError):
    """A state-change event the usage capture cannot record (unknown source or detail type, a missing field)."""
