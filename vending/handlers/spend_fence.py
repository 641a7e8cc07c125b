"""The spend fence on an EventBridge schedule: every metering interval, meter -> fence (vending.spend)."""

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from vending.context import Context, logger, metrics
from vending.spend.fence import Backstop
from vending.spend.freezes import FreezeStore
from vending.spend.interval import run_interval
from vending.spend.meter import fence_reader
from vending.spend.readings import ReadingStore


class FenceEvent(BaseModel):
    """The schedule's event: nothing to choose; every vended account is metered and fenced, at the time the schedule
    fired for (a late invocation meters its own interval, not the moment it ran)."""

    detail: dict[str, Any] = {}
    time: datetime | None = None


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    scheduled = FenceEvent.model_validate(event)
    ctx = Context()
    logger.append_keys(step="SpendFence")
    report = run_interval(
        read=fence_reader(ctx),
        store=ctx.store,
        freezes=FreezeStore(ctx.client("dynamodb"), ctx.settings.freezes_table),
        layout=ctx.layout,
        org=ctx.client("organizations"),
        events=ctx.client("events"),
        sts=ctx.client("sts"),
        bus=ctx.settings.event_bus_name,
        source=ctx.settings.event_source,
        now=(scheduled.time or datetime.now(UTC)).astimezone(UTC),
        run_id=context.aws_request_id,
        # The Budgets backstop's freezes are adopted, and reversed with a thaw (vending.spend.backstop).
        backstop=(
            Backstop(ctx.client("budgets"), ctx.settings.platform_account_id)
            if ctx.settings.backstop_role_arn and ctx.settings.platform_account_id
            else None
        ),
        readings=ReadingStore(ctx.client("dynamodb"), ctx.settings.usage_table),
    )
    metrics.add_metric(name="SpendFreezes", unit=MetricUnit.Count, value=len(report.frozen) + len(report.adopted))
    logger.info("spend fence done", extra=report.to_dict())
    return report.to_dict()
