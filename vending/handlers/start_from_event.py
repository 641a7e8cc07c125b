"""Onboarding events: EventBridge rule -> SQS (buffer, DLQ) -> this function -> state machine execution.

A malformed request is rejected (logged and published as "Team Onboarding Rejected"), never retried;
a transient failure fails only its record, so SQS redelivers just that one.
"""

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from vending.context import Context, logger, metrics
from vending.exceptions import InvalidRequest
from vending.intake import submit
from vending.onboarding import ONBOARDING_DETAIL_TYPE, parse_envelope, publish_rejection
from vending.request import parse_request

# The body is parsed by parse_envelope (size and nesting limits first), not by the batch model, so a malformed
# message is a rejection naming the field rather than a failed record that SQS redelivers until the DLQ.
processor = BatchProcessor(event_type=EventType.SQS, model=SqsRecordModel)


def record_handler(record: SqsRecordModel) -> dict[str, Any]:
    ctx = Context()
    detail: Any = None
    try:
        event = parse_envelope(str(record.body))
        if event.detail_type != ONBOARDING_DETAIL_TYPE:
            logger.info("ignoring event", extra={"detail_type": event.detail_type})
            metrics.add_metric(name="OnboardingEventsIgnored", unit="Count", value=1)
            return {"outcome": "ignored"}
        detail = event.detail
        request = parse_request(detail)
        logger.append_keys(team=request.team, stage=request.stage, request_id=request.request_id)
        result = submit(
            ctx.client("stepfunctions"),
            ctx.store,
            ctx.settings.state_machine_arn,
            request,
            terraform_root=ctx.settings.terraform_root,
        )
    except InvalidRequest as e:
        logger.warning("onboarding request rejected", extra={"errors": e.details})
        metrics.add_metric(name="RequestsRejected", unit="Count", value=1)
        publish_rejection(ctx.client("events"), ctx.settings, detail, e)
        return {"outcome": "rejected", "errors": e.details}
    metrics.add_metric(name="RequestsSubmitted", unit="Count", value=1)
    logger.info("onboarding event handled", extra={"outcome": result.outcome})
    return result.model_dump()


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Every invocation has something to report (a record that fails transiently emits nothing of its own), so the
    # flush is never empty: powertools warns about an empty one, and that warning should mean a metric went missing.
    metrics.add_metric(name="OnboardingRecordsReceived", unit="Count", value=len(event.get("Records", [])))
    return dict(
        process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
    )
