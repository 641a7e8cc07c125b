"""RecordFailed: keep the failing step and the reason, so the request can be resumed from there."""

import json
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from vending.handlers.common import Context, begin_step, logger, metrics
from vending.lifecycle import Status


def reason_from(error: dict[str, Any]) -> str:
    try:
        cause = json.loads(error.get("Cause") or "{}")
        message = cause.get("errorMessage", "") if isinstance(cause, dict) else str(cause)
    except json.JSONDecodeError:
        message = str(error.get("Cause", ""))
    return f"{error.get('Error', 'Unknown')}: {message}".strip()


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = begin_step(event, "RecordFailed")
    store = Context().store
    failed_step = store.require(state.request.request_id).step  # each step records itself as it starts
    reason = reason_from(state.error or {})
    record = store.update(state.request.request_id, status=Status.FAILED, step="RecordFailed",
                          failed_step=failed_step, failure_reason=reason)
    metrics.add_dimension(name="step", value=failed_step or "unknown")
    metrics.add_metric(name="RequestsFailed", unit="Count", value=1)
    logger.info("request failed", extra={"failed_step": failed_step, "reason": reason})
    return {"status": record.status.value, "failed_step": failed_step, "reason": reason}
