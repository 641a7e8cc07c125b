"""Reserve: one conditional write, so the same team and stage never gets two accounts."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from vending.aws.errors import transient_as_retryable
from vending.context import Context, begin_step, logger


@logger.inject_lambda_context(clear_state=True)
@transient_as_retryable
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = begin_step(event, "Reserve")
    record = Context().store.reserve(state.request, state.execution)
    logger.info("reserved", extra={"status": record.status, "attempt": record.attempts})
    return {"status": record.status.value, "attempts": record.attempts, "account_id": record.account_id}
