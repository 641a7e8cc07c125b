"""FinishChange: UPDATING -> READY, and the change is APPLIED."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from vending.aws.errors import transient_as_retryable
from vending.changes import ChangeStore, LifecycleState, finish_change
from vending.context import Context, logger, metrics


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@transient_as_retryable
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = LifecycleState.model_validate(event)
    logger.append_keys(
        team=state.request.team, request_id=state.request.request_id, change_id=state.change_id, step="FinishChange"
    )
    ctx = Context()
    change = finish_change(
        ctx.store,
        ChangeStore(ctx.client("dynamodb"), ctx.settings.changes_table),
        state.change_id,
        pipelines=(state.pipelines or {}).get("runs"),  # what CheckPipelines' callback reported
    )
    metrics.add_metric(name="ChangesApplied", unit="Count", value=1)
    logger.info("change applied", extra={"by": change.requested_by, "approved_by": change.approved_by})
    return {"change_id": change.change_id, "status": change.status.value}
