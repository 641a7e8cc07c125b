"""LifecycleFailed: record why a change or a retirement stopped, at which step (the Catch of AccountLifecycle)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from vending.aws.errors import transient_as_retryable
from vending.changes import ChangeStore, LifecycleState, finish_change
from vending.context import Context, logger
from vending.failures import reason_from


@logger.inject_lambda_context(clear_state=True)
@transient_as_retryable
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = LifecycleState.model_validate(event)
    logger.append_keys(team=state.request.team, request_id=state.request.request_id, step="LifecycleFailed")
    ctx, reason = Context(), reason_from(state.error or {})
    if state.operation == "change":
        finish_change(
            ctx.store, ChangeStore(ctx.client("dynamodb"), ctx.settings.changes_table), state.change_id, error=reason
        )
    else:  # a retirement keeps its RETIRING/SUSPENDED status (never back in service); decommission can be re-run
        record = ctx.store.require(state.request.request_id)
        ctx.store.update(record.request_id, step="RetirementFailed", failed_step=record.step, failure_reason=reason)
    logger.info("lifecycle operation failed", extra={"operation": state.operation, "reason": reason})
    return {"operation": state.operation, "reason": reason}
