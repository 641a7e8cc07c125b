"""CheckAccountStatus: one poll; the Wait state and the cap live in the state machine."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from vending.accounts import CreationSlots, check_account_creation
from vending.aws.errors import transient_as_retryable
from vending.context import Context, begin_step, logger
from vending.exceptions import InvalidWorkflowState


@logger.inject_lambda_context(clear_state=True)
@transient_as_retryable
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = begin_step(event, "CheckAccountStatus")
    if state.account is None:
        raise InvalidWorkflowState("CheckAccountStatus needs $.account from CreateAccount")
    ctx = Context()
    table = ctx.settings.creation_slots_table
    settings = state.settings
    progress = check_account_creation(
        ctx.client("organizations"),
        ctx.store,
        state.request,
        state.account,
        max_polls=settings.account_poll_max,
        slots=CreationSlots(ctx.client("dynamodb"), table) if table else None,
        base_seconds=settings.account_poll_seconds,
        backoff=settings.account_poll_backoff,
        cap_seconds=settings.account_poll_cap_seconds,
    )
    return progress.model_dump()
