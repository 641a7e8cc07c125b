"""Stack drift on an EventBridge schedule: start a plan-only check of every applied stack (vending.pipeline.drift)."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, Field

from vending.context import Context, logger, metrics
from vending.pipeline.drift import DriftStore, scan_table, start_drift_checks


class DriftDetail(BaseModel):
    requests: list[str] = Field(default_factory=list, max_length=1000)  # only these request ids (default: all)


class DriftEvent(BaseModel):
    """The schedule's event (an empty detail: every applied stack), or `vend drift --check`'s."""

    detail: DriftDetail = Field(default_factory=DriftDetail)


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = DriftEvent.model_validate(event)
    ctx = Context()
    logger.append_keys(step="StackDrift")
    dynamodb = ctx.client("dynamodb")
    runs, _ = scan_table(dynamodb, ctx.settings.pipeline_runs_table)
    started = start_drift_checks(
        DriftStore(dynamodb, ctx.settings.pipeline_runs_table),
        ctx.launcher(),
        runs,
        ctx.store.list(),
        request_ids=request.detail.requests,
    )
    metrics.add_metric(name="StackDriftChecksStarted", unit=MetricUnit.Count, value=len(started))
    logger.info("drift checks started", extra={"checks": len(started)})
    return {"checks": started}
