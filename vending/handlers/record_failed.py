"""RecordFailed: keep the failing step and the reason, so the request can be resumed from there."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from vending.aws.errors import transient_as_retryable
from vending.context import Context, begin_step, logger, metrics
from vending.failures import failed_state, reason_from
from vending.lifecycle import Status


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@transient_as_retryable
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = begin_step(event, "RecordFailed")
    ctx = Context()
    arn = str(event.get("execution_arn", ""))
    failed_step = (failed_state(ctx.client("stepfunctions"), arn) if arn else None) or ctx.store.require(
        state.request.request_id
    ).step
    reason = reason_from(state.error or {})
    record = ctx.store.update(
        state.request.request_id,
        status=Status.FAILED,
        step="RecordFailed",
        failed_step=failed_step,
        failure_reason=reason,
    )
    metrics.add_dimension(name="step", value=failed_step or "unknown")
    metrics.add_metric(name="RequestsFailed", unit="Count", value=1)
    logger.info("request failed", extra={"failed_step": failed_step, "reason": reason})
    return {"status": record.status.value, "failed_step": failed_step, "reason": reason}
