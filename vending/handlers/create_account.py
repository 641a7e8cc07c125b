"""CreateAccount: start the creation (or adopt the account that owns the e-mail)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from vending.accounts import CreationSlots, start_account_creation
from vending.aws.errors import transient_as_retryable
from vending.context import Context, begin_step, logger, metrics


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@transient_as_retryable
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = begin_step(event, "CreateAccount")
    ctx = Context()
    table = ctx.settings.creation_slots_table
    slots = CreationSlots(ctx.client("dynamodb"), table) if table else None
    progress = start_account_creation(
        ctx.client("organizations"),
        ctx.store,
        state.request,
        ctx.layout,
        slots,
        wait_seconds=state.settings.account_poll_seconds,
    )
    metrics.add_metric(name="AccountsAdopted" if progress.adopted else "AccountCreationsStarted", unit="Count", value=1)
    return progress.model_dump()
