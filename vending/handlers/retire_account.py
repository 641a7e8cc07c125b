"""RetireAccount: RETIRING (quarantine SCPs on the account at once) -> SUSPENDED (in the Suspended OU). With stacks to
destroy it stops at RETIRING; the workflow's SuspendAccount state calls it again once they are destroyed."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from vending.aws.errors import transient_as_retryable
from vending.budgets import remove_backstop
from vending.changes import LifecycleState
from vending.context import Context, logger
from vending.retirement import retire_account


@logger.inject_lambda_context(clear_state=True)
@transient_as_retryable
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = LifecycleState.model_validate(event)
    logger.append_keys(team=state.request.team, request_id=state.request.request_id, step="RetireAccount")
    ctx = Context()
    suspend = not state.destroy_stacks or state.stacks_destroyed
    record = retire_account(
        ctx.client("organizations"), ctx.store, ctx.layout, state.request.request_id, state.execution, suspend=suspend
    )
    # The Budgets backstop of the account goes with it (the action first, then its budget).
    platform = ctx.settings.platform_account_id
    removed = (
        remove_backstop(ctx.client("budgets"), management_account_id=platform, account_id=record.account_id)
        if platform and record.account_id
        else []
    )
    logger.info(
        "account quarantined and parked",
        extra={"account_id": record.account_id, "ou": record.ou_path, "backstop_removed": removed},
    )
    return {
        "status": record.status.value,
        "account_id": record.account_id,
        "ou_path": record.ou_path,
        "scps": record.scps,
    }
