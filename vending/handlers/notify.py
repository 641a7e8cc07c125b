"""Notify: publish "Team Account Ready" or "Team Account Failed" with the record."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from vending.aws.errors import transient_as_retryable
from vending.context import Context, begin_step, logger
from vending.notify import publish_outcome


@logger.inject_lambda_context(clear_state=True)
@transient_as_retryable
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = begin_step(event, "Notify")
    ctx = Context()
    record = ctx.store.require(state.request.request_id)
    detail_type = publish_outcome(ctx.client("events"), ctx.settings, record)
    logger.info("notified", extra={"detail_type": detail_type})
    return {"detail_type": detail_type}
