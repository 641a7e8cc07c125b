"""BeginChange: READY -> UPDATING with the change's intent (refused if a vend or another change holds the record)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from vending.aws.errors import transient_as_retryable
from vending.changes import ChangeStore, LifecycleState, begin_change
from vending.context import Context, logger


@logger.inject_lambda_context(clear_state=True)
@transient_as_retryable
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = LifecycleState.model_validate(event)
    logger.append_keys(
        team=state.request.team, request_id=state.request.request_id, change_id=state.change_id, step="BeginChange"
    )
    ctx = Context()
    changes = ChangeStore(ctx.client("dynamodb"), ctx.settings.changes_table)
    record = begin_change(ctx.store, changes, state.change_id, state.execution)
    logger.info("change begun", extra={"status": record.status})
    return {"status": record.status.value, "account_id": record.account_id}
