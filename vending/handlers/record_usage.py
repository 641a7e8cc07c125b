"""Usage capture: the member accounts' EC2 and SageMaker state-change events, forwarded to the platform bus, rule ->
SQS (buffer, DLQ) -> this function, each recorded once for the live meter (vending.spend.usage).

An event the meter cannot record is logged and dropped, never retried; a transient failure fails only its record,
so SQS redelivers just that one (a redelivered event that was recorded is a duplicate and changes nothing).
"""

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from vending.context import Context, logger, metrics
from vending.exceptions import UsageEventInvalid
from vending.spend.usage import UsageStore, record_event

processor = BatchProcessor(event_type=EventType.SQS, model=SqsRecordModel)


def record_handler(record: SqsRecordModel) -> dict[str, Any]:
    ctx = Context()
    try:
        recorded = record_event(
            UsageStore(ctx.client("dynamodb"), ctx.settings.usage_table), json.loads(str(record.body))
        )
    except (UsageEventInvalid, ValueError) as e:
        logger.warning("usage event dropped", extra={"reason": str(e)})
        metrics.add_metric(name="UsageEventsDropped", unit="Count", value=1)
        return {"outcome": "dropped", "reason": str(e)}
    logger.info("usage event", extra={"outcome": "recorded" if recorded else "duplicate"})
    return {"outcome": "recorded" if recorded else "duplicate"}


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    metrics.add_metric(name="UsageEventsReceived", unit="Count", value=len(event.get("Records", [])))
    return dict(
        process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
    )
