"""Onboarding events: EventBridge rule -> SQS (buffer, DLQ) -> this function -> state machine execution.

A malformed request is rejected (logged and published as "Team Onboarding Rejected"), never retried;
a transient failure fails only its record, so SQS redelivers just that one.
"""

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel, SqsRecordModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Json

from vending.context import Context, logger, metrics
from vending.exceptions import InvalidRequest
from vending.onboarding import ONBOARDING_DETAIL_TYPE, publish_rejection
from vending.request import parse_request
from vending.service import submit_request


class OnboardingEnvelope(EventBridgeModel):
    account: str = ""  # always sent by EventBridge; moto's SQS target omits it, and nothing here reads it


class OnboardingRecord(SqsRecordModel):
    body: Json[OnboardingEnvelope]  # type: ignore[assignment]


processor = BatchProcessor(event_type=EventType.SQS, model=OnboardingRecord)


def record_handler(record: OnboardingRecord) -> dict[str, Any]:
    event, ctx = record.body, Context()
    if event.detail_type != ONBOARDING_DETAIL_TYPE:
        logger.info("ignoring event", extra={"detail_type": event.detail_type})
        return {"outcome": "ignored"}
    try:
        request = parse_request(event.detail)
    except InvalidRequest as e:
        logger.warning("onboarding request rejected", extra={"errors": e.details})
        metrics.add_metric(name="RequestsRejected", unit="Count", value=1)
        publish_rejection(ctx.client("events"), ctx.settings, event.detail, e)
        return {"outcome": "rejected"}
    logger.append_keys(team=request.team, stage=request.stage, request_id=request.request_id)
    result = submit_request(ctx.client("stepfunctions"), ctx.store, ctx.settings.state_machine_arn, request)
    logger.info("onboarding event handled", extra={"outcome": result.outcome})
    return result.model_dump()


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dict(
        process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
    )
